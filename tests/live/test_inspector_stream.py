"""The inspector's live stream on a real uvicorn: it sends a view when its rows change, not on every tick."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from mock_server.app import create_app
from mock_server.inspector import routes
from mock_server.settings import Settings
from mock_server.testing import LiveServer, serve_in_thread

BODY = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "a lighthouse"}}


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setattr(routes, "TICK_SECONDS", 0.02)  # 25 ticks in a 0.5 s stream
    monkeypatch.setattr(routes, "STREAM_SECONDS", 0.5)
    with serve_in_thread(create_app(Settings())) as server:  # a SystemClock: `now` moves on every tick
        yield server


def events(response: httpx2.Response) -> Iterator[dict[str, Any]]:
    for line in response.iter_lines():
        if line.startswith("data: "):
            yield json.loads(line.removeprefix("data: "))


def test_an_unchanged_view_is_sent_once_per_stream(live: LiveServer) -> None:
    with httpx2.Client(base_url=live.base_url) as client, client.stream("GET", "/_mock/inspector/stream") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        got = list(events(r))  # the stream ends by itself after STREAM_SECONDS
    assert [e["view"] for e in got] == ["tasks"]
    assert got[0]["data"] == []


def test_a_new_task_and_a_clock_advance_are_sent(live: LiveServer) -> None:
    with httpx2.Client(base_url=live.base_url, headers={"Authorization": "Bearer sk-live-1234"}) as client:
        with client.stream("GET", "/_mock/inspector/stream?view=tasks") as r:
            stream = events(r)
            assert next(stream)["data"] == []
            task_id = client.post("/v1/predictions", json=BODY).json()["data"]["task_id"]
            created = next(stream)
            assert [(t["task_id"], t["key"]) for t in created["data"]] == [(task_id, "…1234")]
            client.post("/_mock/clock/advance", json={"seconds": 3600})
            advanced = next(stream)
        assert advanced["clock"]["now"] >= created["clock"]["now"] + 3600
        assert advanced["data"][0]["task_status"] == "success"
