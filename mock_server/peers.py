"""Keeping one process in step with the others on a shared store (`--workers`, several hosts on one Redis).

Rules: on a store that several processes share (`store.multiprocess`), the clock offset is read from
the store before every HTTP request (`ClockSyncMiddleware`), so an advance on one process is seen by
all before their next answer; and every `SWEEP` seconds of mock time each process settles the tasks
that are due whoever created them (`store.due`), so a task settles, and fires its webhook, even when
the process that created it has died. `commit()` is conditional, so a task settles exactly once.
On any store the offset is restored at start and written on every advance (it survives a restart).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from mock_server.clock import SystemClock
from mock_server.lifecycle import Prediction
from mock_server.store import Store

__all__ = ["CLOCK_OFFSET", "SWEEP", "ClockSyncMiddleware", "Peers"]

CLOCK_OFFSET = "clock_offset"
SWEEP = 0.25
"""Seconds between two sweeps for due tasks created by other processes."""

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class _Timers(Protocol):
    def call_at(self, when: float, callback: Callable[[], Awaitable[None] | None]) -> Any: ...


class _Settler(Protocol):
    def settle_due(self, prediction: Prediction) -> Prediction: ...


class Peers:
    """The clock offset kept in the store, and (on a shared store) the sweep for due tasks."""

    def __init__(self, store: Store, clock: SystemClock | None) -> None:
        self._store = store
        self._clock = clock
        self._syncing = False
        if clock is not None:
            self.refresh()
            clock.subscribe(self._persist)

    @property
    def shared(self) -> bool:
        return bool(getattr(self._store, "multiprocess", False))

    def refresh(self) -> None:
        """Take the store's clock offset if it is ahead of ours (another process advanced the clock)."""
        clock = self._clock
        if clock is None:
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

    def start_sweeping(self, timers: _Timers, service: _Settler, now: Callable[[], float]) -> None:
        """Every `SWEEP` s: refresh the clock and settle the store's due tasks (only on a shared store)."""
        if not self.shared:
            return

        def sweep() -> None:
            try:
                self.refresh()
                for p in self._store.due(now()):
                    service.settle_due(p)
            finally:
                timers.call_at(now() + SWEEP, sweep)

        timers.call_at(now() + SWEEP, sweep)


class ClockSyncMiddleware:
    """Pure ASGI: refresh the clock offset from the shared store before each HTTP request."""

    def __init__(self, app: ASGIApp, peers: Peers) -> None:
        self.app = app
        self.peers = peers

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.peers.refresh()
        await self.app(scope, receive, send)
