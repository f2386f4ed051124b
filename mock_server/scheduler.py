"""Timers on the mock's clock: a heap of callbacks run by one anyio task started in the app lifespan.

Rules: the cost of a timer does not grow with the number of timers in flight (heap push/pop; a
cancelled timer is dropped lazily when it reaches the top). This is the only place in the code base
that waits: with a real clock it sleeps until the next timer is due or until `wake()`; with a fake
clock it waits for `wake()` only (the FakeClock calls it when it moves). A callback may return an
awaitable, which runs in the scheduler's task group so a slow callback never delays the others.
A failing callback is reported to `on_error` and never stops the loop.
"""

from __future__ import annotations

import contextlib
import heapq
import inspect
import itertools
import math
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel

from mock_server.clock import Clock

__all__ = ["Callback", "Scheduler", "TimerHandle", "delay"]

Callback = Callable[[], Awaitable[None] | None]


@dataclass(eq=False, slots=True)
class TimerHandle:
    """What `call_at` returns; pass it to `cancel`."""

    when: float
    callback: Callback = field(repr=False)
    cancelled: bool = False


async def delay(seconds: float) -> None:
    """Injected latency: the one wall-clock wait outside the timer loop."""
    await anyio.sleep(seconds)


def _ignore(exc: BaseException) -> None:  # pragma: no cover - replaced by the app's journal
    pass


class Scheduler:
    """Heap-based timers on `clock`; `start(task_group)` runs them, `wake()` re-checks at once."""

    def __init__(
        self, clock: Clock, *, sleeps: bool = True, on_error: Callable[[BaseException], None] = _ignore
    ) -> None:
        self._clock = clock
        self._sleeps = sleeps
        self._on_error = on_error
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._event: anyio.Event | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._token: Any = None
        self._thread: int | None = None

    def __len__(self) -> int:
        return sum(1 for _, _, h in self._heap if not h.cancelled)

    def call_at(self, when: float, callback: Callback) -> TimerHandle:
        """Run `callback` once the clock reaches `when` (unix seconds on the mock's clock)."""
        handle = TimerHandle(when, callback)
        first = not self._heap or when < self._heap[0][0]
        heapq.heappush(self._heap, (when, next(self._seq), handle))
        if first:
            self.wake()
        return handle

    def cancel(self, handle: TimerHandle) -> None:
        handle.cancelled = True

    def next_due(self) -> float | None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def wake(self) -> None:
        """Re-check the heap now; safe to call from any thread."""
        event = self._event
        if event is None:
            return
        if self._thread is None or self._thread == threading.get_ident():
            event.set()
            return
        with contextlib.suppress(RuntimeError):  # the loop has already closed: nothing left to wake
            anyio.from_thread.run_sync(event.set, token=self._token)

    async def run_due(self) -> int:
        """Run every timer that is due now; return how many ran. Cheap when nothing is due."""
        ran = 0
        while True:
            when = self.next_due()
            if when is None or when > self._clock.now():
                return ran
            _, _, handle = heapq.heappop(self._heap)
            ran += 1
            try:
                result = handle.callback()
                if inspect.isawaitable(result):
                    if self._tg is not None:
                        self._tg.start_soon(self._guard, result)
                    else:
                        await result
            except Exception as exc:
                self._on_error(exc)

    def spawn(self, awaitable: Awaitable[None]) -> bool:
        """Run `awaitable` in the scheduler's task group; False when the scheduler is not running."""
        if self._tg is None:
            return False
        self._tg.start_soon(self._guard, awaitable)
        return True

    async def _guard(self, awaitable: Awaitable[None]) -> None:
        try:
            await awaitable
        except Exception as exc:
            self._on_error(exc)

    def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Start the timer loop in `task_group` (the app lifespan's)."""
        self._tg = task_group
        self._token = anyio.lowlevel.current_token()
        self._thread = threading.get_ident()
        task_group.start_soon(self._loop)

    def stop(self) -> None:
        """Stop waking the loop (lifespan shutdown); later `wake()` calls do nothing."""
        self._tg = None
        self._thread = None
        self._event = None

    async def _loop(self) -> None:
        while self._tg is not None:
            event = self._event = anyio.Event()
            if self._thread is None:  # pragma: no cover - stopped between iterations
                return
            await self.run_due()
            when = self.next_due()
            if when is None or not self._sleeps:
                await event.wait()
                continue
            delay = max(0.0, when - self._clock.now())
            with anyio.move_on_after(delay if math.isfinite(delay) else None):
                await event.wait()
