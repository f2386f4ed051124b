"""The webhook engine: turns task events into signed deliveries, retries them, and journals every attempt.

Rules:
- `on_event()` never waits: it journals the delivery, persists it while pending and queues it. API
  responses are never slowed by a receiver.
- A delivery waits in exactly one place, `queue.DeliveryQueue`: the scheduler's heap (not due yet) or its
  receiver's lane (due, waiting for a sender). At most `concurrency` are in flight, at most
  `receiver_concurrency` per receiver, and receivers take turns, so a slow, hanging or dead receiver
  never delays another's deliveries.
- What an attempt's outcome means (delivered, retry at T, exhausted, gone) is decided by the pure
  `retry.next_step()`; this module does the I/O around it.
- Retries run on the mock's clock through the scheduler (`call_at`), so a FakeClock advances through
  backoff. The same `webhook-id` is used on every attempt of a delivery, freshly signed each time.
- Only allowlisted hosts are contacted; any other delivery is journaled `blocked` and never sent.
- Chaos (duplicate, delay, out-of-order, bad signature) is decided once per delivery from the seed
  (`chaos.plan()`); the out-of-order hold and swap is `chaos.Pairing`, whose window the queue times.
- With a persistent store, pending deliveries are reloaded by `start()` and resume where they were, and
  finished ones refill the journal. On a store with a shared delivery stream (Redis), a process sends
  only what it holds: what it read from the stream (`outbox.StreamIntake`) or took over from a dead
  process; its records go back in one write per tick. The process that wrote a delivery does not queue it.
- The service writes a transition's deliveries in the same store transaction as the task (`prepare()`
  builds them without I/O, `accept()` queues them once committed).
"""

from __future__ import annotations

import functools
import hashlib
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.from_thread
import anyio.lowlevel

from mock_server.clock import Clock, SystemClock
from mock_server.errors import SettingsError
from mock_server.peers import STALE
from mock_server.store.codec import newest_of
from mock_server.webhooks.backoff import Backoff
from mock_server.webhooks.chaos import chaos_for, plan
from mock_server.webhooks.delivery import DeliveryFailed, WebhookSender, sender_for
from mock_server.webhooks.events import encode_payload, fires
from mock_server.webhooks.journal import Attempt, Delivery, DeliveryJournal, DeliveryStatus
from mock_server.webhooks.outbox import StreamIntake
from mock_server.webhooks.policy import Allowlist
from mock_server.webhooks.queue import DeliveryQueue, Timers
from mock_server.webhooks.retry import Delivered, Outcome, RetryAt, next_step
from mock_server.webhooks.settings import WebhookChaos, WebhookSettings
from mock_server.webhooks.signing import Signer

if TYPE_CHECKING:  # imported by LazyHttpSender at the first delivery, not at startup
    import httpx2

    from mock_server.store import DeliveryStream

__all__ = ["DeliveryStore", "WebhookDispatcher"]

EPOCH = "webhook_epoch"


class DeliveryStore(Protocol):
    """The slice of `mock_server.store.Store` the dispatcher persists deliveries through (pending and finished)."""

    def put_delivery(self, delivery_id: str, data: Mapping[str, Any]) -> None: ...
    def delete_delivery(self, delivery_id: str) -> None: ...
    def deliveries(self) -> list[dict[str, Any]]: ...
    def find_deliveries(
        self,
        *,
        task_id: str | None = None,
        status: str | None = None,
        newest: int | None = None,
        skip: int = 0,
    ) -> list[dict[str, Any]]: ...
    def delivery(self, delivery_id: str) -> dict[str, Any] | None: ...
    def reclaim(self, now: float, stale_after: float) -> list[dict[str, Any]]: ...
    def delivery_stream(self) -> DeliveryStream | None: ...
    def get_meta(self, name: str) -> str | None: ...
    def set_meta(self, name: str, value: str) -> None: ...


class _HasWebhook(Protocol):
    @property
    def task_id(self) -> str: ...
    @property
    def webhook(self) -> str | None: ...


def _ignore(exc: BaseException) -> None:  # pragma: no cover - the app passes its journal's recorder
    pass


class WebhookDispatcher:
    """Delivers task events as Standard Webhooks; `start()`/`aclose()` in the app lifespan."""

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        clock: Clock,
        scheduler: Timers,
        client: httpx2.AsyncClient | None = None,
        sender: WebhookSender | None = None,
        store: DeliveryStore | None = None,
        seed: int | None = 0,
        wall_clock: Clock | None = None,
        on_error: Callable[[BaseException], None] = _ignore,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._stamp_clock: Clock = clock if settings.timestamp == "clock" else (wall_clock or SystemClock())
        self._scheduler = scheduler
        self._client = client
        self._sender = sender
        self._store = store
        self._on_error = on_error
        self._rng = random.Random(f"webhooks:{seed}")
        self._signer = Signer(settings.secrets)
        self._backoff = Backoff.from_settings(settings)
        self._allows = functools.lru_cache(maxsize=1024)(Allowlist(settings.allowlist).allows)
        self.journal = DeliveryJournal(settings.journal_limit)
        # The reset count is part of every webhook-id; kept in the store so ids differ after reset + restart too.
        self._epoch = int(store.get_meta(EPOCH) or 0) if store is not None else 0
        self._order_windows: dict[str, float] = {}  # out-of-order chaos planned by prepare(), used by accept()
        self._queue = DeliveryQueue(
            clock=clock,
            scheduler=scheduler,
            concurrency=settings.concurrency,
            receiver_concurrency=settings.receiver_concurrency,
            url_of=self._url_of,
            attempt=self._attempt,
            on_error=on_error,
        )
        self._stack: AsyncExitStack | None = None
        self._active_sender: WebhookSender | None = None
        self._token: Any = None
        self._thread: int | None = None
        self._stream = store.delivery_stream() if store is not None else None
        self._intake: StreamIntake | None = None

    # -- lifespan ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the sender pool and resume the store's pending deliveries."""
        if self._stack is not None:
            return
        stack = AsyncExitStack()
        self._active_sender = self._sender or sender_for(self.settings, self._client, stack)
        if self._stream is not None:  # closed after the task group ends: what is left is written then
            self._intake = StreamIntake(self._stream, take=self.resume, on_error=self._on_error)
            stack.push_async_callback(self._intake.aclose)
        tg = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(tg.cancel_scope.cancel)
        self._stack = stack
        self._token = anyio.lowlevel.current_token()
        self._thread = threading.get_ident()
        if self._intake is not None:
            tg.start_soon(self._intake.read_loop)
            tg.start_soon(self._intake.flush_loop)
        self._queue.start(tg)  # what was queued before start() too
        self._resume()

    async def aclose(self) -> None:
        """Stop sending; pending deliveries stay in the store for the next start."""
        stack, self._stack = self._stack, None
        self._thread = None
        self._queue.stop()
        if stack is not None:
            await stack.aclose()
        # No sender is left, so the next start begins with empty lanes and no slot counted as in use;
        # with a store, the deliveries that were waiting are pending there, for that start.
        self._queue.senders_ended()
        self._intake = None  # what it held stays pending in its stream entries, taken over at the next start

    def reset(self) -> None:
        """Forget every delivery (the control surface's reset)."""
        self._queue.clear()
        if self._store is not None:
            for delivery in self.journal.list(status=DeliveryStatus.PENDING):
                self._store.delete_delivery(delivery.delivery_id)
        self.journal.clear()
        if self._intake is not None:
            self._intake.release_all()
        self._epoch += 1
        if self._store is not None:
            self._store.set_meta(EPOCH, str(self._epoch))

    # -- the service's subscriber -----------------------------------------------------------------

    def on_event(self, prediction: _HasWebhook, event: str, body: Mapping[str, Any]) -> str | None:
        """Subscriber for task events; returns the delivery id, or None when nothing fires.

        A task may carry `webhook_chaos` (a mapping like the `chaos:` settings, e.g. from a rule) that
        replaces the configured chaos for its deliveries.
        """
        deliveries = self.prepare(prediction, event, body)
        if self._store is not None:
            for delivery in deliveries:
                self._store.put_delivery(delivery.delivery_id, delivery.to_stored())
        self.accept(deliveries)
        return deliveries[0].delivery_id if deliveries else None

    def prepare(self, prediction: _HasWebhook, event: str, body: Mapping[str, Any]) -> list[Delivery]:
        """The delivery records `event` makes (pending, or blocked when the host is not allowed), without I/O.

        The id derives from the task and event, so a settle replayed after a crash yields the same `webhook-id`.
        """
        url = prediction.webhook
        if url is None or not fires(event, url, self.settings):
            return []
        chaos = self._chaos_for(prediction)
        now = self._clock.now()
        delivery = Delivery(
            delivery_id=self._new_id(prediction.task_id, event),
            task_id=prediction.task_id,
            event=event,
            url=url,
            payload=encode_payload(body),
            created_at=now,
            chaos=plan(chaos, self._rng),
        )
        if not self._allows(url):
            return [replace(delivery, status=DeliveryStatus.BLOCKED)]
        if chaos.out_of_order:
            self._order_windows[delivery.delivery_id] = chaos.out_of_order_window
        return [replace(delivery, next_attempt_at=now + chaos.delay)]

    def accept(self, deliveries: Sequence[Delivery]) -> None:
        """Journal and queue deliveries that the store already holds (from `prepare()`); any thread."""
        if self._thread is not None and threading.get_ident() != self._thread:
            anyio.from_thread.run_sync(self._accept, deliveries, token=self._token)
            return
        self._accept(deliveries)

    def _accept(self, deliveries: Sequence[Delivery]) -> None:
        self._take_own(deliveries)
        for delivery in deliveries:
            if self._stream is not None and not delivery.finished:
                continue  # in the stream: whichever process reads it journals and sends it
            self.journal.put(delivery)
            if delivery.finished:
                continue
            at = delivery.next_attempt_at if delivery.next_attempt_at is not None else self._clock.now()
            self._queue_at(delivery, at)

    def _chaos_for(self, prediction: object) -> WebhookChaos:
        try:
            return chaos_for(getattr(prediction, "webhook_chaos", None), self.settings.chaos)
        except SettingsError as exc:  # a rule is validated when it is set; never fail a delivery on it
            self._on_error(exc)
            return self.settings.chaos

    # -- control surface --------------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        """True on a store several processes share: `list` and `get` read it (thread-safe: the control routes call
        them on a worker thread there, so that a hung Redis holds the call, not the event loop)."""
        return bool(getattr(self._store, "multiprocess", False))

    def list(
        self,
        *,
        task_id: str | None = None,
        status: str | None = None,
        newest: int | None = None,
        skip: int = 0,
    ) -> list[Delivery]:
        """Deliveries in creation order, filtered by task id and status; only the newest `newest` if given, less
        the newest `skip` (a page further down).

        On a store that several processes share, this includes the deliveries the others made: the store finds
        those the filters keep (reading only them: a task's among 12,000 in 1.3-1.6 ms on Redis instead of 110-220
        ms for all, 2026-12-04), and this process's journal entries, fresher, replace them or (the first page
        only: they are the newest) join them at the end.
        """
        if not self.shared:
            return newest_of(self.journal.list(task_id=task_id, status=status), newest, skip)
        assert self._store is not None
        local = {d.delivery_id: d for d in self.journal.list(task_id=task_id)}
        merged: dict[str, Delivery] = {}
        for record in self._store.find_deliveries(task_id=task_id, status=status, newest=newest, skip=skip):
            stored = self._decode(record)
            if stored is not None:
                merged[stored.delivery_id] = local.pop(stored.delivery_id, stored)
        joined = (*merged.values(), *local.values()) if not skip else tuple(merged.values())
        return newest_of([d for d in joined if status is None or d.status == status], newest)

    @staticmethod
    def _decode(record: Mapping[str, Any]) -> Delivery | None:
        try:
            return Delivery.from_record(record)
        except (KeyError, TypeError, ValueError):
            return None  # not a record this version can read

    def get(self, delivery_id: str) -> Delivery:
        """One delivery; KeyError when the journal has no such id."""
        try:
            return self.journal.get(delivery_id)
        except KeyError:
            if self.shared:
                assert self._store is not None
                record = self._store.delivery(delivery_id)
                found = self._decode(record) if record is not None else None
                if found is not None:
                    return found
            raise

    def redeliver(self, delivery_id: str) -> Delivery:
        """Send again now with a fresh attempt budget; a blocked delivery stays blocked (nothing is sent).

        On a shared store this works for a delivery another process made too: this process takes it over
        (its record names this process as owner), with the same `webhook-id`.
        """
        delivery = self.get(delivery_id)
        if delivery.status is DeliveryStatus.BLOCKED:
            return delivery
        self._queue.cancel(delivery_id)
        now = self._clock.now()
        if delivery.finished:
            delivery = replace(
                delivery, status=DeliveryStatus.PENDING, round_start=len(delivery.attempts), next_attempt_at=now
            )
        else:
            delivery = replace(delivery, next_attempt_at=now)
        if self._intake is not None and not self._intake.holds(delivery_id):
            # Not ours: written pending, a finished one re-enters the stream (any process may send it); one
            # pending elsewhere stays with its holder, which sends it at its own next attempt.
            assert self._store is not None
            self._store.put_delivery(delivery_id, delivery.to_stored())
            self._take_own((delivery,))
            return delivery
        self._save(delivery)
        self._queue.submit((delivery_id,), now)
        return delivery

    # -- internals --------------------------------------------------------------------------------

    def _new_id(self, task_id: str, event: str) -> str:
        # Derived from the task, not a counter, so ids stay unique across restarts (receivers dedupe on it);
        # the reset epoch keeps them unique when a seeded mock hands out the same task ids after a reset.
        n = 0
        while True:
            digest = hashlib.sha256(f"{task_id}:{event}:{self._epoch}:{n}".encode()).hexdigest()[:32]
            candidate = f"msg_{digest}"
            try:
                self.journal.get(candidate)
            except KeyError:
                return candidate
            n += 1

    def _url_of(self, delivery_id: str) -> str | None:
        try:
            return self.journal.get(delivery_id).url
        except KeyError:
            return None  # reset meanwhile

    def _take_own(self, written: Sequence[Delivery]) -> None:
        """Hold and queue what the store's write of `written` took for this process: no wait for a read."""
        if self._stream is None:
            return
        now = self._clock.now()
        for delivery in written:
            if self._stream.took(delivery.delivery_id):
                self._adopt(delivery, now)
        if taken := self._stream.taken():
            self.resume(taken)

    def _save(self, delivery: Delivery) -> None:
        self.journal.put(delivery)
        if self._intake is not None and self._intake.holds(delivery.delivery_id):  # with this tick's others
            self._intake.save(delivery.delivery_id, delivery.to_stored(), finished=delivery.finished)
        elif self._store is not None:  # a finished delivery stays in the store as the journal (bounded there)
            self._store.put_delivery(delivery.delivery_id, delivery.to_stored())
            self._take_own((delivery,))

    def _resume(self) -> None:
        # On a store several processes share, pending deliveries are taken over from dead processes only
        # (`resume()` with the store's `reclaim()`, by mock_server.peers), never from a live one.
        if self._store is None:
            return
        if getattr(self._store, "multiprocess", False):  # the orphans and those of processes silent for STALE s
            self.resume(self._store.reclaim(SystemClock().now(), STALE))
        else:
            self.resume(self._store.deliveries())

    def resume(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Journal stored delivery records and queue the pending ones (at start, or taken over from a dead process)."""
        now = self._clock.now()
        for record in records:
            try:
                delivery = Delivery.from_record(record)
            except (KeyError, TypeError, ValueError) as exc:
                self._on_error(exc)
                continue
            self._adopt(delivery, now)

    def _adopt(self, delivery: Delivery, now: float) -> None:
        """Journal `delivery` and queue it if pending, unless this process has it queued already."""
        if self._queue.timed(delivery.delivery_id):
            return
        if self._intake is not None:
            if delivery.finished or not self._intake.hold(delivery.delivery_id):
                return  # this process holds (and queued) it already
        elif delivery.delivery_id in self.journal:
            return  # this process journaled (and queued) it already
        self.journal.put(delivery)
        if delivery.finished:
            return
        self._queue_at(delivery, max(now, delivery.next_attempt_at or now))

    def _queue_at(self, delivery: Delivery, at: float) -> None:
        """Queue a pending delivery for `at`, held for the out-of-order window `prepare()` planned, if any."""
        window = self._order_windows.pop(delivery.delivery_id, None)
        if window is not None:
            self._queue.hold_or_swap(delivery.delivery_id, delivery.task_id, at, window)
        else:
            self._queue.submit((delivery.delivery_id,), at)

    async def _attempt(self, delivery_id: str, *, duplicate: bool = False) -> None:
        try:
            delivery = self.journal.get(delivery_id)
        except KeyError:
            return  # reset or evicted meanwhile
        if delivery.finished and not duplicate:
            return
        number = len(delivery.attempts) + 1
        forged = "bad_signature" in delivery.chaos and number == 1
        headers = self._signer.headers(delivery_id, int(self._stamp_clock.now()), delivery.payload, forged=forged)
        at = self._clock.now()
        sender = self._active_sender
        assert sender is not None, "workers only run between start() and aclose()"
        signature = "bad" if forged else "valid"
        try:
            answer = await sender.send(delivery.url, headers, delivery.payload)
        except DeliveryFailed as exc:
            failed = Attempt(number, at, None, str(exc), round(exc.latency_ms, 3), "", signature, duplicate)
            outcome = Outcome(failed)
        else:
            latency = round(answer.latency_ms, 3)
            answered = Attempt(number, at, answer.status_code, None, latency, answer.excerpt, signature, duplicate)
            outcome = Outcome(answered, answer.retry_after)
        try:
            delivery = self.journal.get(delivery_id)  # re-read: a redeliver or reset may have happened
        except KeyError:
            return
        if duplicate:
            self.journal.put(delivery.with_attempt(outcome.attempt))
            return
        step = next_step(
            delivery,
            outcome,
            settings=self.settings,
            backoff=self._backoff,
            rng=self._rng,
            now=self._clock.now(),
            stamp_now=self._stamp_clock.now(),
        )
        self._save(step.delivery)
        if isinstance(step, RetryAt):
            self._queue.submit((delivery_id,), step.when)
        elif isinstance(step, Delivered) and step.duplicate:
            await self._attempt(delivery_id, duplicate=True)
