"""Keeping one process in step with the others on a shared store (`--workers`, several hosts on one Redis).

Rules: on a store that several processes share (`store.multiprocess`), the clock offset is read from
the store before every HTTP request (`ClockSyncMiddleware`), so an advance on one process is seen by
all before their next answer; a store that announces changes (`track_meta`/`meta_changed`, Redis
pub/sub with acknowledgements) is read only after one was announced, not on every request.
Every `SWEEP` seconds (wall time) each process records that it is alive (`store.beat`), settles
the tasks that are due whoever created them (`store.due`; `commit()` is conditional, so a task
settles exactly once), and takes over the pending webhook deliveries of any process not seen for
`STALE` seconds (`store.reclaim`, atomic: one taker), which it then sends with their original
`webhook-id`. On any store the clock offset is restored at start and written on every advance (it
survives a restart).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from mock_server.clock import SystemClock
from mock_server.lifecycle import Prediction
from mock_server.store import Store

__all__ = ["CLOCK_OFFSET", "STALE", "SWEEP", "ClockSyncMiddleware", "Peers"]

CLOCK_OFFSET = "clock_offset"
SWEEP = 0.25
"""Wall seconds between two sweeps (heartbeat, due tasks, dead processes' deliveries)."""
STALE = 1.5
"""Wall seconds without a heartbeat after which a process counts as dead and its deliveries are taken over."""

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class _Settler(Protocol):
    def settle_due(self, prediction: Prediction) -> Prediction: ...


class Peers:
    """The clock offset kept in the store, and (on a shared store) the sweep for due tasks."""

    def __init__(self, store: Store, clock: SystemClock | None) -> None:
        self._store = store
        self._clock = clock
        self._syncing = False
        self._changed: Callable[[], bool] | None = None
        if clock is not None:
            track = getattr(store, "track_meta", None)
            if self.shared and track is not None:
                track()
                self._changed = store.meta_changed  # type: ignore[attr-defined]
            self.refresh()
            clock.subscribe(self._persist)

    @property
    def shared(self) -> bool:
        return bool(getattr(self._store, "multiprocess", False))

    def refresh(self) -> None:
        """Take the store's clock offset if it is ahead of ours (another process advanced the clock)."""
        clock = self._clock
        if clock is None or (self._changed is not None and not self._changed()):
            return
        saved = self._store.get_meta(CLOCK_OFFSET)
        if saved is not None and float(saved) > clock.offset + 1e-9:
            self._syncing = True
            try:
                clock.advance(float(saved) - clock.offset)
            finally:
                self._syncing = False

    def _persist(self) -> None:
        if not self._syncing and self._clock is not None:
            self._store.set_meta(CLOCK_OFFSET, repr(self._clock.offset))

    def sweep(
        self, service: _Settler, now: float, wall: float, resume: Callable[[list[dict[str, Any]]], None] | None
    ) -> None:
        """One round: heartbeat, the clock, due tasks, and the deliveries of dead processes."""
        self._store.beat(wall)
        self.refresh()
        for p in self._store.due(now):
            service.settle_due(p)
        if resume is not None:
            taken = self._store.reclaim(wall, STALE)
            if taken:
                resume(taken)

    async def run(
        self,
        service: _Settler,
        now: Callable[[], float],
        resume: Callable[[list[dict[str, Any]]], None] | None,
        on_error: Callable[[BaseException], None],
    ) -> None:
        """Sweep every `SWEEP` wall seconds until cancelled (the app's lifespan runs it on a shared store)."""
        from mock_server.scheduler import delay

        wall = SystemClock()  # offset 0: wall time, comparable between processes and hosts
        while True:
            try:
                self.sweep(service, now(), wall.now(), resume)
            except Exception as exc:  # a store hiccup must not stop the sweeps
                on_error(exc)
            await delay(SWEEP)


class ClockSyncMiddleware:
    """Pure ASGI: refresh the clock offset from the shared store before each HTTP request."""

    def __init__(self, app: ASGIApp, peers: Peers) -> None:
        self.app = app
        self.peers = peers

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.peers.refresh()
        await self.app(scope, receive, send)
