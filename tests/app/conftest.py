from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette

from mock_server.app import create_app
from mock_server.clock import FakeClock
from mock_server.settings import Settings


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_800_000_000.0)


@pytest.fixture
def settings() -> Settings:
    return Settings(seed=7)


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> Starlette:
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        yield c
    app.state.mock.journal.check()


@pytest.fixture
def make_client(clock: FakeClock) -> Callable[..., httpx2.AsyncClient]:
    """A client for an app built from other settings (or another client address)."""

    def make(
        settings: Settings | None = None, *, client: tuple[str, int] = ("127.0.0.1", 5000), **kw: Any
    ) -> httpx2.AsyncClient:
        app = create_app(settings or Settings(seed=7), clock=clock, **kw)
        transport = httpx2.ASGITransport(app=app, client=client)
        return httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")

    return make
