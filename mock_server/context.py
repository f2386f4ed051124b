"""The bundle of components one app instance shares with its handlers (`request.app.state.mock`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from mock_server.catalog import Catalog
from mock_server.clock import Clock
from mock_server.files import FileStore
from mock_server.journal import Journal
from mock_server.lifecycle import Prediction
from mock_server.scheduler import Scheduler
from mock_server.service import PredictionService
from mock_server.settings import Settings
from mock_server.store import ANY_TASK, Store, TaskFilter

__all__ = ["MockContext", "TaskSource"]


class TaskSource(Protocol):
    """Tasks the store does not hold, listed beside its own: `serve --replay`'s (`replay.ReplayBook`).

    Each task is a `Prediction` as of `now` on the mock's clock; `body` is what a poll of it answers now.
    """

    def find(self, now: float, where: TaskFilter, *, limit: int) -> list[Prediction]: ...
    def get(self, task_id: str, now: float) -> Prediction | None: ...
    def body(self, task_id: str, now: float, base_url: str) -> Mapping[str, Any] | None: ...
    def reset(self) -> None: ...


@dataclass(frozen=True, slots=True)
class MockContext:
    settings: Settings
    clock: Clock
    catalog: Catalog
    store: Store
    journal: Journal
    scheduler: Scheduler
    files: FileStore
    service: PredictionService
    webhooks: Any = None  # the WebhookDispatcher, when the webhooks package is present
    peers: Any = None  # mock_server.peers.Peers: what processes sharing the store keep in step
    sources: list[TaskSource] = field(default_factory=list)  # ReplayMiddleware adds its book

    @property
    def reads_off_loop(self) -> bool:
        """True when tasks and credits are read from a shared store only (no replayed tasks: a cassette's state
        changes on the event loop). Such reads are thread-safe and may wait for Redis for its timeout, so the
        control surface's task list and the inspector's tabs make them on a worker thread."""
        return self.store.multiprocess and not self.sources

    def worker(self) -> dict[str, int] | None:
        """`{"pid", "of"}` of this process under `--workers N` (it holds the bodies of what it answered); else None."""
        return {"pid": os.getpid(), "of": self.settings.workers} if self.settings.workers > 1 else None

    def find_tasks(
        self, where: TaskFilter = ANY_TASK, *, limit: int = 100, within: int | None = None, offset: int = 0
    ) -> list[Prediction]:
        """`store.find()` and every source's (`within` bounds the store's only), newest first; `offset` is passed
        to the store when no source joins it, else applied to the merged list."""
        if not self.sources:
            return self.store.find(where, limit=limit, within=within, offset=offset)
        limit += offset
        found = self.store.find(where, limit=limit, within=within)
        now = self.clock.now()
        for source in self.sources:
            found = [*found, *source.find(now, where, limit=limit)]
        found.sort(key=lambda p: p.created_at, reverse=True)
        return found[offset:limit]

    def sourced(self, task_id: str) -> tuple[Prediction, TaskSource] | None:
        """A task some source holds (not the store), as of now, and that source."""
        now = self.clock.now()
        for source in self.sources:
            p = source.get(task_id, now)
            if p is not None:
                return p, source
        return None
