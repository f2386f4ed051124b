"""Fixtures of the example suite: the example client wired to the mock, with free waiting.

The client's `sleep` advances the mock's clock and its `clock` reads it, so `wait()`, backoff and
`Retry-After` cost no wall time. Everything else comes from the `mock_server` pytest plugin.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from shuyou_client import ShuYouClient

from mock_server.pytest_plugin import MockServer


@pytest.fixture
def client(mock_server: MockServer) -> Iterator[ShuYouClient]:
    with ShuYouClient(
        mock_server.api_key,
        base_url=mock_server.base_url,
        sleep=mock_server.advance,
        clock=mock_server.clock.now,
        rng=random.Random(0),
    ) as client:
        yield client


@pytest.fixture
def webhook_receiver_factory() -> Iterator[Callable[..., Any]]:
    """STOPGAP until the `contracts` plugin ships this fixture (see /work/plan/requests-plugin.md); then delete it."""
    from contracts.receiver import Behaviour, WebhookReceiver

    started: list[WebhookReceiver] = []

    def make(secrets: tuple[str, ...] = (), **behaviour: Any) -> WebhookReceiver:
        receiver = WebhookReceiver(secrets, behaviour=Behaviour.from_json(behaviour) if behaviour else None)
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()
