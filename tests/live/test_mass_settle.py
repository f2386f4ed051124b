"""A mass settle on a shared store leaves the event loop free: polls are answered while it is written."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx2

from mock_server import Settings, create_app
from mock_server.service import SETTLE_CHUNK
from mock_server.testing import serve_in_thread
from tests._support import eventually

BODY = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "a fox"}}


def test_a_poll_is_answered_while_a_mass_settle_is_being_written(shared_store: tuple[str, Callable[[], int]]) -> None:
    """A clock advance that settles 1,024 tasks settles them a chunk at a time (`settle_all_due`): a poll sent
    once some have ended is answered while others are still being settled (it used to wait for all of them),
    and every task has ended when the advance answers."""
    url, ended = shared_store
    app = create_app(Settings(store=url))
    answered: list[str] = []
    with (
        serve_in_thread(app) as live,
        httpx2.Client(base_url=live.base_url, headers={"Authorization": "Bearer sk-k"}, timeout=60) as c,
        httpx2.Client(base_url=live.base_url, headers={"Authorization": "Bearer sk-k"}, timeout=60) as other,
    ):
        ids = [c.post("/v1/predictions", json=BODY).json()["data"]["task_id"] for _ in range(4 * SETTLE_CHUNK)]

        def advance() -> None:
            assert c.post("/_mock/clock/advance", json={"seconds": 60}).status_code == 200
            answered.append("advance")

        mover = threading.Thread(target=advance)
        mover.start()
        eventually(lambda: ended() > 0, interval=0.001)  # the first chunk is written: the advance is under way
        assert other.get(f"/v1/predictions/{ids[-1]}").status_code == 200
        answered.append("poll")
        ended_by_then = ended()
        mover.join(timeout=60)
        assert answered == ["poll", "advance"]
        assert ended_by_then < len(ids)  # answered while the settle was still being written
        assert ended() == len(ids)
        processing = other.get("/_mock/tasks", params={"status": "processing", "limit": 10_000}).json()["data"]
        assert processing == []
    app.state.mock.store.close()
