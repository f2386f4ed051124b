"""Fixtures of the example suite: the example client wired to the mock, with free waiting.

The client's `sleep` advances the mock's clock and its `clock` reads it, so `wait()`, backoff and
`Retry-After` cost no wall time. Everything else comes from the `mock_server` pytest plugin.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

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
