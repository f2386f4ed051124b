"""The bundle of components one app instance shares with its handlers (`request.app.state.mock`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mock_server.catalog import Catalog
from mock_server.clock import Clock
from mock_server.files import FileStore
from mock_server.journal import Journal
from mock_server.scheduler import Scheduler
from mock_server.service import PredictionService
from mock_server.settings import Settings
from mock_server.store import Store

__all__ = ["MockContext"]


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
