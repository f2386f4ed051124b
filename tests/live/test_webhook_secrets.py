"""A webhook URL's `user:password@` is delivered as Basic auth but never shown: no served view of the task, its
deliveries or the request that created it (control surface, journal, inspector, its stream) holds the password."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import pytest

from mock_server.clock import FakeClock
from mock_server.pytest_plugin.server import MockServer
from mock_server.settings import Settings
from tests._support import eventually
from tests.live.test_webhook_delivery import RETRYING, create, deliveries, served
from tests.live.test_webhook_userinfo import raw_receiver

SECRET = "s3cret-pw"


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with served(Settings(webhooks=RETRYING), FakeClock(start=time.time())) as m:
        yield m


def test_password_is_delivered_and_masked_in_every_view(mock: MockServer) -> None:
    with raw_receiver() as (port, received):
        task_id = create(mock, "image", f"http://hook:{SECRET}@127.0.0.1:{port}/hook", **{"X-Mock-Duration": "1"})
        mock.clock.advance(1)
    basic = base64.b64encode(f"hook:{SECRET}".encode()).decode()
    assert f"Basic {basic}\r\n" in received[0].decode()
    eventually(lambda: deliveries(mock, task_id=task_id)[0]["status"] == "delivered")
    delivery_id = deliveries(mock, task_id=task_id)[0]["delivery_id"]
    created = next(e for e in mock.http.get("/_mock/requests").json()["data"] if e["method"] == "POST")
    views = [
        "/_mock/tasks",
        f"/_mock/tasks/{task_id}",
        "/_mock/webhooks",
        f"/_mock/webhooks/{delivery_id}",
        "/_mock/requests",
        "/_mock/inspector/tasks",
        f"/_mock/inspector/tasks/{task_id}",
        "/_mock/inspector/webhooks",
        "/_mock/inspector/requests",
        f"/_mock/inspector/requests/{created['request_id']}",
    ]
    served = {path: mock.http.get(path).text for path in views}
    with mock.http.stream("GET", "/_mock/inspector/stream", params={"view": "webhooks", "detail": task_id}) as r:
        served["stream"] = next(line for line in r.iter_lines() if line.startswith("data: "))
    assert [path for path, text in served.items() if SECRET in text] == []
    for path in (f"/_mock/tasks/{task_id}", f"/_mock/webhooks/{delivery_id}", "stream"):
        assert "hook:***@127.0.0.1" in served[path], path
    assert (
        "hook:***@127.0.0.1"
        in mock.http.get(f"/_mock/inspector/requests/{created['request_id']}").json()["request_body"]
    )
    assert mock.http.post(f"/_mock/webhooks/{delivery_id}/redeliver").text.count(SECRET) == 0


def test_tasks_filter_accepts_the_masked_key(mock: MockServer) -> None:
    task_id = create(mock, "image", "http://127.0.0.1:9/hook")
    masked = mock.http.get("/_mock/tasks").json()["data"][0]["key"]
    assert masked == "…-key"
    assert [t["task_id"] for t in mock.http.get("/_mock/tasks", params={"key": masked}).json()["data"]] == [task_id]
    assert mock.http.get("/_mock/tasks", params={"key": "…nope"}).json()["data"] == []
