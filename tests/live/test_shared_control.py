"""The control surface's writes on a shared store (SQLite, Redis), made off the event loop: a cancel."""

from __future__ import annotations

from collections.abc import Callable

import httpx2

from mock_server import Settings, create_app
from mock_server.testing import serve_in_thread

BODY = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "a fox"}}


def test_a_cancel_ends_the_task_releases_its_hold_and_a_second_one_is_refused(
    shared_store: tuple[str, Callable[[], int]],
) -> None:
    url, ended = shared_store
    app = create_app(Settings(store=url, default_balance=10.0))
    with (
        serve_in_thread(app) as live,
        httpx2.Client(base_url=live.base_url, headers={"Authorization": "Bearer sk-k"}, timeout=30) as c,
    ):
        task_id = c.post("/v1/predictions", json=BODY).json()["data"]["task_id"]
        held = c.get("/v1/credits").json()["data"]
        cancelled = c.post(f"/_mock/tasks/{task_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["task_status"] == "cancelled"
        assert ended() == 1
        assert c.get(f"/v1/predictions/{task_id}").json()["data"]["task_status"] == "cancelled"
        after = c.get("/v1/credits").json()["data"]
        assert after["balance"] > held["balance"]  # the planned cost is no longer held
        again = c.post(f"/_mock/tasks/{task_id}/cancel")
        assert again.status_code == 409, again.text
        assert "already cancelled" in again.json()["error"]["message"]
        missing = c.post("/_mock/tasks/00000000000000000000000000000000/cancel")
        assert missing.status_code == 404, missing.text
    app.state.mock.store.close()
