"""Keeping one process in step with the others on a shared store (`--workers`, several hosts on one Redis).

Rules: on a store that several processes share (`store.multiprocess`), the clock offset is read from
the store before every HTTP request (`before_request`, called by `middleware.MockMiddleware`), so an
advance on one process is seen by all before their next answer; a store that announces changes
(`track_meta`/`meta_changed`, Redis pub/sub with acknowledgements) is read only after one was announced, not
on every request.
Every `SWEEP` seconds (wall time) each process adds its new request journal entries to the store's shared
journal (`share_journal`, `store.SharedJournal`), shows that it is alive (`store.beat`: SQLite writes
a heartbeat; Redis touches the idle time of the outbox stream entries it holds), settles the tasks
that are due whoever created them (`store.due`; `commit()` is conditional, so a task settles exactly
once), and takes over the pending webhook deliveries held by any process not seen for `STALE`
seconds (`store.reclaim`, atomic, one taker; on Redis XAUTOCLAIM of entries idle that long), which
it then sends with their original `webhook-id`. On any store the clock offset is restored at start
and written on every advance (it survives a restart).

Rules set at runtime (`PUT /_mock/rules`, and the file's rules again after `/_mock/reset`) are kept in the
store too (`RULES`, with the config rules they replaced): every process sharing the store adopts them before
its next answer, and a process that starts later adopts them if its own config's rules are the ones they
replaced (a restart keeps them; an edited config file wins over them).

An unreachable store (`StoreUnavailable`) is no reason to refuse a request here: the request goes on, and its
own store call answers 503 (what needs no store still answers). A sweep that finds the store unreachable
reports it once and sweeps again only after the store answers a PING awaited without blocking the event loop
(`ping_async`), so an outage never holds the loop for a timeout every `SWEEP` s; the sweep's own store calls run
on a worker thread (`run`), so neither does a store that stops answering mid-run. Any other error surfaces.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from mock_server.clock import SystemClock
from mock_server.errors import SettingsError, StoreUnavailable
from mock_server.lifecycle import Prediction
from mock_server.store import BatchedRequests, SharedJournal, Store

__all__ = ["CLOCK_OFFSET", "FLUSH_WAIT", "RULES", "STALE", "SWEEP", "Peers"]

CLOCK_OFFSET = "clock_offset"
RULES = "rules"
"""Meta key: JSON `{"base": <the config rules replaced>, "rules": <the rules in force>}`."""
SWEEP = 0.25
"""Wall seconds between two sweeps (heartbeat, due tasks, dead processes' deliveries)."""
STALE = 3.0
"""Wall seconds without a sign of life after which a process counts as dead and its deliveries are taken over.

12 sweeps: a process whose event loop is held up (a settle of 1,000 tasks takes ~0.5 s on a loaded 2-core
machine) is not taken for dead, at the price of a restart resuming a killed process's deliveries 3 s later."""
FLUSH_WAIT = 1.0
"""Seconds `gather_journal` waits at most for the other processes to add their entries (Redis: they answer in ~1
ms; SQLite: with their next sweep, within `SWEEP` s); past it, a list shows what they have added."""


class _Settler(Protocol):
    @property
    def resets(self) -> int: ...
    async def settle_swept(self, found: list[Prediction], resets: int | None = None) -> None: ...


class _Journal(Protocol):
    def share(self, store: SharedJournal) -> None: ...
    def flush(self) -> None: ...


class _Ruled(Protocol):
    @property
    def rules(self) -> Sequence[Any]: ...  # mock_server.rules.Rule, each with its `raw` mapping

    def adopt_raw_rules(self, raw: Any) -> None: ...  # SettingsError when they do not parse


def _raw(rules: Sequence[Any]) -> list[Any]:
    return [dict(r.raw) for r in rules]


class Peers:
    """The clock offset kept in the store, and (on a shared store) the sweep for due tasks."""

    def __init__(self, store: Store, clock: SystemClock | None) -> None:
        self._store = store
        self._clock = clock
        self._syncing = False
        self._changed: Callable[[], bool] | None = None
        self._unread = False  # an announced change whose read failed (see `refresh`)
        self._ruled: _Ruled | None = None
        self._rules_seen: str | None = None
        self._base = ""  # the config rules, as JSON (share_rules)
        self._on_change: list[Callable[[], None]] = []
        self._journal: tuple[_Journal, SharedJournal] | None = None
        track = getattr(store, "track_meta", None)
        if self.shared and track is not None:
            track()
            self._changed = store.meta_changed  # type: ignore[attr-defined]
        if clock is not None:
            self.refresh()
            clock.subscribe(self._persist)

    @property
    def shared(self) -> bool:
        return self._store.multiprocess

    @property
    def announces(self) -> bool:
        """True if another process's change (clock, rules, a reset) reaches this one as an announcement."""
        return self._changed is not None

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call `callback()` in `refresh` whenever another process may have changed something (`announces`)."""
        self._on_change.append(callback)

    def refresh(self) -> bool:
        """Take the store's clock offset if it is ahead of ours (another process advanced the clock), and the
        rules another process put; True if it read them. An announcement is used up when it is read; a read that
        fails (the store unreachable) is made again at the next refresh, announced or not, so no advance is
        missed."""
        if self._changed is not None and not self._unread and not self._changed():
            return False
        self._unread = True
        for callback in self._on_change:
            callback()
        if self._ruled is not None:
            self._sync_rules()
        clock = self._clock
        if clock is not None:
            saved = self._store.get_meta(CLOCK_OFFSET)
            if saved is not None and float(saved) > clock.offset + 1e-9:
                self._syncing = True
                try:
                    clock.advance(float(saved) - clock.offset)
                finally:
                    self._syncing = False
        self._unread = False
        return True

    def before_request(self) -> bool:
        """`refresh()` before an HTTP request (True: the clock may have moved); an unreachable store lets the
        request go on (its own call answers). A try, not `contextlib.suppress`: three Python calls fewer on every
        request to a shared store (with the clock read again only when it may have moved, an in-process GET on
        Redis went from 148,800 to 135,800 instructions, callgrind, 2026-12-04; 139,300 on the memory store)."""
        try:
            return self.refresh()
        except StoreUnavailable:
            return True

    # -- rules --------------------------------------------------------------------------------------
    def share_rules(self, service: _Ruled, config_rules: Sequence[Any]) -> None:
        """Keep `service.rules` in step with the other processes (a shared store); adopt the stored rules now
        if they replaced these same `config_rules` (a restart, or a worker that started after the change)."""
        if not self.shared:
            return
        self._ruled, self._base = service, json.dumps(_raw(config_rules), sort_keys=True, default=str)
        saved = self._store.get_meta(RULES)
        if saved is not None and _loads(saved).get("base") == self._base:
            self._sync_rules()
        else:
            self._rules_seen = saved

    def publish_rules(self) -> None:
        """Store the rules now in force in this process for the others (after `PUT /_mock/rules` or a reset)."""
        if self._ruled is None:
            return
        value = json.dumps({"base": self._base, "rules": _raw(self._ruled.rules)}, sort_keys=True, default=str)
        self._rules_seen = value
        self._store.set_meta(RULES, value)

    def _sync_rules(self) -> None:
        assert self._ruled is not None
        saved = self._store.get_meta(RULES)
        if saved is None or saved == self._rules_seen:
            return
        self._rules_seen = saved
        try:
            self._ruled.adopt_raw_rules(_loads(saved).get("rules", []))
        except SettingsError:  # written by another version of the mock: keep ours
            return

    # -- the request journal --------------------------------------------------------------------------
    def share_journal(self, journal: _Journal) -> None:
        """On a shared store that keeps one (`store.SharedJournal`), `journal` keeps its entries there too: each
        sweep adds the new ones before its heartbeat (the heartbeat is what a SQLite reader waits for)."""
        store = self._store
        if self.shared and isinstance(store, SharedJournal):
            journal.share(store)
            self._journal = journal, store

    async def gather_journal(self) -> bool:
        """True once every other live process has added to the shared journal the entries of the requests it
        answered before this call, and this one its own (waiting up to `FLUSH_WAIT` s, on a worker thread: a hung
        store holds no request but this one); False if there is no shared journal or the store did not answer."""
        if self._journal is None:
            return False
        import anyio.to_thread

        try:
            await anyio.to_thread.run_sync(self._gather, abandon_on_cancel=True)
        except StoreUnavailable:  # the list is this process's own until the store answers
            return False
        return True

    def _gather(self) -> None:
        assert self._journal is not None
        journal, store = self._journal
        journal.flush()
        done = store.request_flush(time.time(), STALE)
        deadline = time.monotonic() + FLUSH_WAIT
        while not done() and time.monotonic() < deadline:
            time.sleep(0.002)  # on a worker thread

    def _persist(self) -> None:
        if not self._syncing and self._clock is not None:
            self._store.set_meta(CLOCK_OFFSET, repr(self._clock.offset))

    def _collect(self, now: float, wall: float, reclaim: bool) -> tuple[list[Prediction], list[dict[str, Any]]]:
        """A sweep's store calls, which touch nothing else of this process (so `run` makes them on a worker
        thread): the journal's new entries (before the heartbeat: a SQLite reader waits for that beat), the
        heartbeat, the tasks due by `now`, and (`reclaim`) the pending deliveries of processes silent for `STALE`
        s, taken over."""
        if self._journal is not None:
            self._journal[0].flush()
        self._store.beat(wall)
        due = self._store.due(now)
        return due, self._store.reclaim(wall, STALE) if reclaim else []

    @staticmethod
    async def _apply(
        service: _Settler,
        resets: int,
        due: list[Prediction],
        taken: list[dict[str, Any]],
        resume: Callable[[list[dict[str, Any]]], None] | None,
    ) -> None:
        await service.settle_swept(due, resets)  # conditional commits: a task another process settled stays so
        if taken and resume is not None:
            resume(taken)

    async def run(
        self,
        service: _Settler,
        now: Callable[[], float],
        resume: Callable[[list[dict[str, Any]]], None] | None,
        on_error: Callable[[BaseException], None],
    ) -> None:
        """Sweep every `SWEEP` wall seconds until cancelled (the app's lifespan runs it on a shared store).

        The store calls (`_collect`) run on a worker thread: a Redis that hangs (no reply, no refusal: a stopped
        or overloaded server, a network partition) holds that thread for the store's timeout, not the event
        loop, so what needs no store (the journal, /_mock/health, the inspector) still answers at once. Only
        applying what they found (settling due tasks, resuming deliveries) and `refresh` run on the loop.
        """
        import anyio.to_thread

        from mock_server.scheduler import delay

        wall = SystemClock()  # offset 0: wall time, comparable between processes and hosts
        while True:
            try:
                self.refresh()
                resets = service.resets
                found = await anyio.to_thread.run_sync(
                    self._collect, now(), wall.now(), resume is not None, abandon_on_cancel=True
                )
                await self._apply(service, resets, *found, resume)
            except StoreUnavailable as exc:
                on_error(exc)
                await self._until_reachable()
            except Exception as exc:  # a store hiccup must not stop the sweeps
                on_error(exc)
            await delay(SWEEP)

    async def _until_reachable(self) -> None:
        """Return once the store answers again, asking every `SWEEP` s without blocking the loop."""
        from mock_server.scheduler import delay

        store = self._store
        if not isinstance(store, BatchedRequests):
            return
        while True:
            try:
                await store.ping_async()
                return
            except StoreUnavailable:
                await delay(SWEEP)


def _loads(value: str) -> dict[str, Any]:
    try:
        data = json.loads(value)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
