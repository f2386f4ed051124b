from __future__ import annotations

from collections.abc import Iterator

import pytest
from contract_mocks import build_mock, serve

from contracts.serving import Served


@pytest.fixture
def mock_url() -> Iterator[str]:
    served = serve(build_mock())
    yield served.base_url
    served.stop()


@pytest.fixture
def served() -> Iterator[list[Served]]:
    """Things a test serves; stopped after it."""
    started: list[Served] = []
    yield started
    for item in started:
        item.stop()
