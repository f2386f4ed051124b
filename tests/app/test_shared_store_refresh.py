"""Before each request on a shared store the mock reads the clock and rules other processes wrote
(`peers.Peers.before_request`): an unreachable store lets the request go on, any other failure there is a bug
the journal keeps and the client sees as a 500 in the envelope."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from mock_server import Settings, create_app
from mock_server.clock import SystemClock
from mock_server.errors import StoreUnavailable
from mock_server.peers import CLOCK_OFFSET, Peers
from mock_server.store.memory import MemoryStore
from tests.app._support import KEY, envelope


class SharedStore(MemoryStore):
    """A memory store that says it is shared, whose meta reads fail with `failure` once it is set."""

    multiprocess = True

    def __init__(self) -> None:
        super().__init__()
        self.failure: Exception | None = None

    def get_meta(self, name: str) -> str | None:
        if self.failure is not None:
            raise self.failure
        return super().get_meta(name)


@pytest.fixture
def store() -> SharedStore:
    return SharedStore()


@pytest.fixture
async def client(store: SharedStore) -> AsyncIterator[httpx2.AsyncClient]:
    app = create_app(Settings(), store=store)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        c.app = app  # type: ignore[attr-defined]
        yield c


@pytest.mark.anyio
async def test_an_unreachable_store_before_a_request_lets_the_request_answer(
    store: SharedStore, client: httpx2.AsyncClient
) -> None:
    store.failure = StoreUnavailable("redis://127.0.0.1:1/0", "Connection refused")
    answer = await client.get("/v1/credits", headers=KEY)
    assert answer.status_code == 200, answer.text  # what the request itself reads is reachable


@pytest.mark.anyio
async def test_a_bug_in_the_shared_clock_read_is_a_journaled_500_not_swallowed(
    store: SharedStore, client: httpx2.AsyncClient
) -> None:
    store.failure = KeyError("clock_offset")
    envelope(await client.get("/v1/credits", headers=KEY), 500, "internal_server_error", "KeyError in the mock")
    journal = client.app.state.mock.journal  # type: ignore[attr-defined]
    assert any("KeyError: 'clock_offset'" in error for error in journal.errors)
    assert journal.requests(limit=1)[0].error_type == "internal_server_error"


class AnnouncingStore(SharedStore):
    """A shared store that announces meta changes, as Redis pub/sub does: `meta_changed()` is True once each."""

    def __init__(self) -> None:
        super().__init__()
        self.announced = False

    def track_meta(self) -> None:
        pass

    def meta_changed(self) -> bool:
        changed, self.announced = self.announced, False
        return changed


def test_a_clock_advance_announced_during_an_outage_is_taken_once_the_store_answers() -> None:
    store, clock = AnnouncingStore(), SystemClock()
    peers = Peers(store, clock)
    store.set_meta(CLOCK_OFFSET, "3600")  # another process advanced the clock and announced it
    store.announced = True
    store.failure = StoreUnavailable("redis://127.0.0.1:1/0", "Connection refused")
    peers.before_request()  # the read fails: this request goes on with the clock it has
    assert clock.offset == 0
    store.failure = None
    peers.before_request()  # nothing announced since: the failed read is made again all the same
    assert clock.offset == 3600
