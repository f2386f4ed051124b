"""Where a pending delivery waits, and the senders that take it from there.

Rules:
- A delivery waits in exactly one place: the scheduler's heap (not due yet) or its receiver's lane (`lanes.Lanes`:
  due, waiting for a sender). At most `concurrency` are in flight, at most `receiver_concurrency` per receiver, and
  receivers take turns, so a slow, hanging or dead receiver never delays another's deliveries.
- Times are the mock's clock (`call_at`), so a FakeClock advances through delays and backoff.
- Out-of-order chaos holds one delivery for a window and swaps it with the next (`chaos.Pairing`); this module
  times the window.
- What is sent, and what an attempt's outcome means, is the dispatcher's: each id is handed to its `attempt`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import anyio.abc

from mock_server.webhooks.chaos import Batch, Pairing
from mock_server.webhooks.lanes import Lanes
from mock_server.webhooks.policy import receiver_of

if TYPE_CHECKING:
    from mock_server.clock import Clock

__all__ = ["DeliveryQueue", "Timers"]


class Timers(Protocol):
    """The slice of `mock_server.scheduler.Scheduler` the webhook engine uses."""

    def call_at(self, when: float, callback: Callable[[], Awaitable[None] | None]) -> Any: ...
    def cancel(self, handle: Any) -> None: ...


class DeliveryQueue:
    """The pending deliveries of one process, by id: timed until due, then in their receiver's lane."""

    def __init__(
        self,
        *,
        clock: Clock,
        scheduler: Timers,
        concurrency: int,
        receiver_concurrency: int,
        url_of: Callable[[str], str | None],
        attempt: Callable[[str], Awaitable[None]],
        on_error: Callable[[BaseException], None],
    ) -> None:
        self._clock = clock
        self._scheduler = scheduler
        self._limits = (concurrency, receiver_concurrency)
        self._url_of = url_of  # None: the delivery is gone (a reset)
        self._attempt = attempt
        self._on_error = on_error
        self._timers: dict[str, Any] = {}
        self._queued: set[str] = set()  # ids waiting in the lanes
        self._lanes = self._new_lanes()
        self._pairing = Pairing()
        self._held_timer: Any = None
        self._receiver_of = functools.lru_cache(maxsize=1024)(receiver_of)
        self._tg: anyio.abc.TaskGroup | None = None

    def start(self, tg: anyio.abc.TaskGroup) -> None:
        """Send from now on, in `tg`; what was queued before starts now."""
        self._tg = tg
        self._pump()

    def stop(self) -> None:
        """No new sends, no timer fires; `senders_ended()` once the task group's senders are done."""
        self._tg = None
        self._cancel_timers()

    def senders_ended(self) -> None:
        """After `stop()` and the senders' end: empty lanes, no slot counted as in use (the store keeps them pending).
        Not in `stop()`: a sender cancelled meanwhile gives its slot back to the lanes it took it from."""
        self._lanes = self._new_lanes()
        self._queued.clear()

    def clear(self) -> None:
        """Forget every waiting delivery (a reset)."""
        self._cancel_timers()
        self._lanes.clear()
        self._queued.clear()
        self._cancel_held_timer()
        self._pairing.release()

    def timed(self, delivery_id: str) -> bool:
        """True while the delivery waits for its time on the scheduler."""
        return delivery_id in self._timers

    def cancel(self, delivery_id: str) -> None:
        """Its timer, if it has one, no longer fires (a redeliver sends it now instead)."""
        if (handle := self._timers.pop(delivery_id, None)) is not None:
            self._scheduler.cancel(handle)

    def submit(self, batch: Batch, at: float) -> None:
        """Send `batch` (its ids in order, to one receiver) at `at` on the mock clock, or now if that has come."""
        if at <= self._clock.now():
            self._enqueue(batch)
            return
        handle = self._scheduler.call_at(at, functools.partial(self._enqueue, batch))
        for delivery_id in batch:
            self._timers[delivery_id] = handle

    def hold_or_swap(self, delivery_id: str, task_id: str, at: float, window: float) -> None:
        """Out-of-order chaos: hold this delivery up to `window` s, or send it before the one held (swapped)."""
        self._cancel_held_timer()
        batches, held = self._pairing.offer(delivery_id, task_id)
        for batch in batches:
            self.submit(batch, at)
        if held:
            self._held_timer = self._scheduler.call_at(at + window, self._release_held)

    # -- internals --------------------------------------------------------------------------------

    def _new_lanes(self) -> Lanes[Batch]:
        concurrency, per_receiver = self._limits
        return Lanes[Batch](total=concurrency, per_receiver=per_receiver)

    def _cancel_timers(self) -> None:
        for handle in self._timers.values():
            self._scheduler.cancel(handle)
        self._timers.clear()

    def _release_held(self) -> None:
        self._held_timer = None
        held_id = self._pairing.release()
        if held_id is not None:
            self._enqueue((held_id,))

    def _cancel_held_timer(self) -> None:
        if self._held_timer is not None:
            self._scheduler.cancel(self._held_timer)
            self._held_timer = None

    def _enqueue(self, batch: Batch) -> None:
        for delivery_id in batch:
            self._timers.pop(delivery_id, None)
        batch = tuple(d for d in batch if d not in self._queued)  # a redelivered one may be waiting already
        url = self._url_of(batch[0]) if batch else None
        if url is not None:
            self._queued.update(batch)
            self._lanes.push(self._receiver_of(url), batch)
            self._pump()

    def _pump(self) -> None:
        if self._tg is not None:
            while (work := self._lanes.take()) is not None:
                self._tg.start_soon(self._run, *work)

    async def _run(self, receiver: str, batch: Batch) -> None:
        """Send `batch`, then whatever the lanes hand out next, until nothing is ready."""
        work: tuple[str, Batch] | None = (receiver, batch)
        while work is not None:
            receiver, batch = work
            self._queued.difference_update(batch)
            try:
                for delivery_id in batch:
                    try:
                        await self._attempt(delivery_id)
                    except Exception as exc:
                        self._on_error(exc)
            finally:
                self._lanes.done(receiver)
            work = self._lanes.take()
