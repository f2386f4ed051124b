"""Webhooks through the whole mock: a real uvicorn on 127.0.0.1:0, a FakeClock the test advances, and
the contracts receiver on another loopback socket."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from contracts.receiver import WebhookReceiver
from mock_server.app import create_app
from mock_server.clock import FakeClock
from mock_server.pytest_plugin.server import MockServer, make_handle
from mock_server.settings import Settings
from mock_server.testing import serve_in_thread
from mock_server.webhooks.settings import DEV_SECRET, WebhookSettings
from tests._support import eventually, free_port

RETRYING = WebhookSettings(backoff_base=10.0, jitter=0.0, max_attempts=3, timeout=5.0)

BODIES = {
    "image": {"model": "gpt-image-2", "function": "image", "input": {"prompt": "a red fox"}},
    "video": {
        "model": "veo-3.1-lite-generate-preview",
        "function": "video",
        "input": {"prompt": "a lion", "aspect_ratio": "16:9", "resolution": "720P", "duration": 4},
    },
    "audio": {"model": "qwen3-tts-flash", "function": "audio", "input": {"prompt": "Welcome", "voice": "Cherry"}},
}


@contextlib.contextmanager
def served(settings: Settings, clock: FakeClock) -> Iterator[MockServer]:
    """A live mock on loopback as the pytest plugin's handle (`http` carries a key, `clock` is the FakeClock);
    a server-side error it journaled is re-raised at the end, as the plugin's fixtures do."""
    app = create_app(settings, clock=clock)
    with serve_in_thread(app) as live:
        handle = make_handle(live.base_url, settings, app, clock, "test-key")
        try:
            yield handle
            handle.check()
        finally:
            handle.close()


def create(mock: MockServer, kind: str, webhook: str, **headers: str) -> str:
    response = mock.http.post("/v1/predictions", json={**BODIES[kind], "webhook": webhook}, headers=headers)
    assert response.status_code == 200, response.text
    task_id: str = response.json()["data"]["task_id"]
    return task_id


def deliveries(mock: MockServer, **params: str) -> list[dict[str, Any]]:
    """`GET /_mock/webhooks` as served (`control.webhooks()` types it, without `next_attempt_at`)."""
    response = mock.http.get("/_mock/webhooks", params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["deliveries"]
    return found


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver([DEV_SECRET]) as r:
        yield r


@pytest.fixture(scope="module")
def shared_mock() -> Iterator[MockServer]:
    with served(Settings(webhooks=RETRYING), FakeClock(start=time.time())) as m:
        yield m


@pytest.fixture
def mock(shared_mock: MockServer) -> MockServer:
    """The module's mock, reset: no tasks, no deliveries, no pending retries."""
    shared_mock.control.reset()
    return shared_mock


@pytest.mark.parametrize("kind", ["image", "video", "audio"])
def test_one_signed_delivery_per_task_equal_to_get_prediction(
    mock: MockServer, receiver: WebhookReceiver, kind: str
) -> None:
    task_id = create(mock, kind, receiver.url, **{"X-Mock-Duration": "7"})
    mock.clock.advance(7)
    (got,) = receiver.wait_for(1)
    polled = mock.http.get(f"/v1/predictions/{task_id}").json()
    Webhook(DEV_SECRET).verify(got["raw"], got["headers"])
    assert got["verified"] is True
    assert got["schema_errors"] == []
    assert got["body"]["data"]["task_status"] == "success"
    assert {**got["body"], "request_id": None} == {**polled, "request_id": None}  # request_id names each response
    mock.clock.advance(3600)
    eventually(lambda: deliveries(mock, task_id=task_id)[0]["status"] == "delivered")
    assert len(deliveries(mock, task_id=task_id)) == 1
    assert len(receiver.deliveries()) == 1


def test_failed_and_cancelled_tasks_fire_too(mock: MockServer, receiver: WebhookReceiver) -> None:
    failed = create(mock, "image", receiver.url, **{"X-Mock-Outcome": "failed", "X-Mock-Duration": "1"})
    cancelled = create(mock, "audio", receiver.url, **{"X-Mock-Duration": "100"})
    assert mock.http.post(f"/_mock/tasks/{cancelled}/cancel").status_code == 200
    mock.clock.advance(1)
    got = receiver.wait_for(2)
    statuses = {d["body"]["data"]["task_id"]: d["body"]["data"]["task_status"] for d in got}
    assert statuses == {failed: "failed", cancelled: "cancelled"}
    assert all(d["verified"] and not d["schema_errors"] for d in got)


def test_retries_through_the_control_surface_journal(mock: MockServer, receiver: WebhookReceiver) -> None:
    receiver.set_behaviour(script=[500, 500, 200])
    task_id = create(mock, "image", receiver.url, **{"X-Mock-Duration": "1"})
    mock.clock.advance(1)
    receiver.wait_for(1)
    eventually(lambda: len(deliveries(mock, task_id=task_id)[0]["attempts"]) == 1)
    mock.clock.advance(10)
    receiver.wait_for(2)
    eventually(lambda: len(deliveries(mock, task_id=task_id)[0]["attempts"]) == 2)
    mock.clock.advance(20)
    eventually(lambda: deliveries(mock, task_id=task_id)[0]["status"] == "delivered")
    (delivery,) = deliveries(mock, task_id=task_id, status="delivered")
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
    assert {d["webhook_id"] for d in receiver.deliveries()} == {delivery["delivery_id"]}
    one = mock.http.get(f"/_mock/webhooks/{delivery['delivery_id']}").json()
    assert one["payload"]["data"]["task_id"] == task_id


def test_redeliver_and_unknown_delivery(mock: MockServer, receiver: WebhookReceiver) -> None:
    task_id = create(mock, "image", receiver.url, **{"X-Mock-Duration": "1"})
    mock.clock.advance(1)
    receiver.wait_for(1)
    eventually(lambda: deliveries(mock, task_id=task_id)[0]["status"] == "delivered")
    delivery_id = deliveries(mock, task_id=task_id)[0]["delivery_id"]
    assert mock.http.post(f"/_mock/webhooks/{delivery_id}/redeliver").status_code == 202
    assert [d["webhook_id"] for d in receiver.wait_for(2)] == [delivery_id, delivery_id]
    missing = mock.http.get("/_mock/webhooks/msg_nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "404"
    assert mock.http.get("/_mock/webhooks", params={"status": "lost"}).status_code == 400


def test_receiver_down_is_exhausted_and_nothing_is_lost(mock: MockServer) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    task_ids = [create(mock, "audio", url, **{"X-Mock-Duration": "1"}) for _ in range(3)]
    mock.clock.advance(1)
    for n in (1, 2):
        eventually(functools.partial(lambda n: [len(d["attempts"]) for d in deliveries(mock)] == [n] * 3, n))
        mock.clock.advance(60)
        started = time.perf_counter()  # retries are pending meanwhile: the API does not wait for them
        for _ in range(10):
            assert mock.http.get(f"/v1/predictions/{task_ids[0]}").status_code == 200
        assert time.perf_counter() - started < 1.0
    eventually(lambda: all(d["status"] == "exhausted" for d in deliveries(mock)))
    exhausted = deliveries(mock, status="exhausted")
    assert sorted(d["task_id"] for d in exhausted) == sorted(task_ids)
    assert all(len(d["attempts"]) == 3 for d in exhausted)
    assert all(a["error"].startswith("connect") for d in exhausted for a in d["attempts"])


def test_api_answers_while_a_receiver_hangs(receiver: WebhookReceiver) -> None:
    # The receiver holds the delivery for 60 s (the mock's timeout too): every API call below must be answered
    # while that one delivery is still in flight, with no attempt finished, so nothing waits on the receiver.
    # The assertion is on order (answered before the attempt ended), not on a wall-time budget.
    receiver.set_behaviour(delay=60.0)
    with served(Settings(webhooks=WebhookSettings(timeout=60.0)), FakeClock(start=time.time())) as mock:
        hung = create(mock, "image", receiver.url, **{"X-Mock-Duration": "1"})
        mock.clock.advance(1)
        receiver.wait_for(1)  # the delivery is in flight; the receiver holds it
        for _ in range(20):
            task_id = create(mock, "image", receiver.url, **{"X-Mock-Duration": "100"})
            assert mock.http.get(f"/v1/predictions/{task_id}").status_code == 200
        (delivery,) = deliveries(mock, task_id=hung)
        assert delivery["status"] == "pending", delivery
        assert delivery["attempts"] == [], "the hung attempt ended before the API calls were answered"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://example.com/hook", id="plain-http-remote"),
        pytest.param("ftp://127.0.0.1/hook", id="ftp"),
        pytest.param("not a url", id="garbage"),
    ],
)
def test_create_time_url_policy_is_a_400_envelope(mock: MockServer, url: str) -> None:
    response = mock.http.post("/v1/predictions", json={**BODIES["image"], "webhook": url})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "400"
    assert error["type"] == "invalid_params"
    assert "webhook" in error["message"]


def test_docs_example_host_is_blocked_and_never_sent(mock: MockServer) -> None:
    task_id = create(mock, "image", "https://api.shuyou.ai/api/callback", **{"X-Mock-Duration": "1"})
    mock.clock.advance(1)
    eventually(lambda: bool(deliveries(mock, task_id=task_id)))
    (delivery,) = deliveries(mock, task_id=task_id)
    assert delivery["status"] == "blocked"
    assert delivery["attempts"] == []


def test_sqlite_restart_in_the_middle_of_retries(receiver: WebhookReceiver, tmp_path: Path) -> None:
    settings = Settings(store=f"sqlite:///{tmp_path / 'mock.db'}", webhooks=RETRYING)
    receiver.set_behaviour(script=[500])
    with served(settings, FakeClock(start=time.time())) as first:
        task_id = create(first, "video", receiver.url, **{"X-Mock-Duration": "1"})
        first.clock.advance(1)
        receiver.wait_for(1)
        eventually(lambda: len(deliveries(first, task_id=task_id)[0]["attempts"]) == 1)

    with served(settings, FakeClock(start=first.clock.now())) as second:
        (pending,) = deliveries(second, task_id=task_id)
        assert pending["status"] == "pending"
        second.clock.advance(10)
        receiver.wait_for(2)
        eventually(lambda: deliveries(second, task_id=task_id)[0]["status"] == "delivered")
        (done,) = deliveries(second, task_id=task_id)
    assert [a["status_code"] for a in done["attempts"]] == [500, 200]
    assert len({d["webhook_id"] for d in receiver.deliveries()}) == 1


def test_a_receiver_answering_410_gone_is_journaled_gone_and_not_retried(
    mock: MockServer, receiver: WebhookReceiver
) -> None:
    receiver.set_behaviour(script=[410])
    task_id = create(mock, "image", receiver.url, **{"X-Mock-Duration": "1"})
    mock.clock.advance(1)
    eventually(lambda: [d["status"] for d in deliveries(mock, task_id=task_id)] == ["gone"])
    mock.clock.advance(3600)  # the whole retry schedule
    (gone,) = deliveries(mock, status="gone")
    assert [a["status_code"] for a in gone["attempts"]] == [410]
    assert gone["next_attempt_at"] is None
    assert [d["answered"] for d in receiver.deliveries()] == [410]
