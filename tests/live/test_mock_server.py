"""The mock over a real uvicorn socket: every upstream example to success with decodable files, and more."""

from __future__ import annotations

import io
import socket
import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx2
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import openapi
from mock_server.app import create_app
from mock_server.clock import FakeClock
from mock_server.lifecycle import Prediction
from mock_server.settings import Settings
from mock_server.testing import LiveServer, serve_in_thread

KEY = {"Authorization": "Bearer sk-live"}


EXAMPLES: dict[str, dict[str, Any]] = openapi.request_examples()


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    app = create_app(Settings(seed=3), clock=FakeClock(1_800_000_000.0))
    with serve_in_thread(app) as live:
        yield live
    app.state.mock.journal.check()


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def advance(http: httpx2.Client, seconds: float) -> None:
    assert http.post("/_mock/clock/advance", json={"seconds": seconds}).status_code == 200


def decode(kind: str, response: httpx2.Response) -> None:
    """Open the file with a real decoder; fail if it does not parse."""
    ctype = response.headers["content-type"]
    data = io.BytesIO(response.content)
    if kind == "image":
        image = Image.open(data)
        image.load()
        assert ctype == f"image/{(image.format or '').lower()}"
    elif kind == "video":
        assert ctype == "video/mp4"
        with av.open(data, mode="r") as container:
            frames = len(list(container.decode(video=0)))
        assert frames >= 1
    elif ctype == "audio/wav":
        with wave.open(data) as w:
            assert w.getnframes() > 0
    else:
        assert ctype == "audio/mpeg", ctype
        with av.open(data, mode="r") as container:
            samples = [frame.samples for frame in container.decode(audio=0)]
        assert sum(samples) > 0


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_upstream_example_succeeds_with_real_files(http: httpx2.Client, name: str) -> None:
    body = EXAMPLES[name]
    created = http.post("/v1/predictions", json=body, headers=KEY)
    assert created.status_code == 200, created.text
    task_id = created.json()["data"]["task_id"]
    advance(http, 3600)
    result = http.get(f"/v1/predictions/{task_id}", headers=KEY).json()
    assert result["data"]["task_status"] == "success"
    kind = body["function"]
    items = result["data"]["output"]
    requested = body["input"].get("n", body["input"].get("num_images", 1)) if kind == "image" else 1
    assert len(items) == requested
    for item in items:
        assert item["type"] == kind
        decode(kind, http.get(item[kind]))
    usage = result["usage"]
    assert usage["cost"] == pytest.approx(usage["upstream_cost"] * usage["discount_percent"])
    assert usage["discount"] == pytest.approx(usage["upstream_cost"] - usage["cost"])


def test_every_model_has_an_example() -> None:
    models = openapi.load_spec()["components"]["schemas"]["CreatePredictionRequest"]["discriminator"]["mapping"]
    assert {b["model"] for b in EXAMPLES.values()} == set(models)


def test_subscribers_see_exactly_one_terminal_event_per_task(server: LiveServer, http: httpx2.Client) -> None:
    events: list[tuple[str, str, dict[str, Any]]] = []

    def record(p: Prediction, event: str, body: dict[str, Any]) -> None:
        events.append((p.task_id, event, body))

    server.app.state.mock.service.subscribe(record)
    body = EXAMPLES["create-prediction.image"]
    ok, failed, cancelled = (
        http.post("/v1/predictions", json=body, headers={**KEY, **h}).json()["data"]["task_id"]
        for h in ({}, {"X-Mock-Outcome": "failed"}, {})
    )
    assert http.post(f"/_mock/tasks/{cancelled}/cancel").status_code == 200
    for _ in range(3):
        http.get(f"/v1/predictions/{ok}", headers=KEY)
        advance(http, 20)
    assert sorted((t, e) for t, e, _ in events) == sorted(
        [(ok, "success"), (failed, "failed"), (cancelled, "cancelled")]
    )
    polled = http.get(f"/v1/predictions/{ok}", headers=KEY).json()
    sent = next(b for t, _, b in events if t == ok)
    assert {**sent, "request_id": None} == {**polled, "request_id": None}


def test_cross_key_404_and_missing_key_401(http: httpx2.Client) -> None:
    task_id = http.post("/v1/predictions", json=EXAMPLES["create-prediction.audio"], headers=KEY).json()["data"][
        "task_id"
    ]
    assert http.get(f"/v1/predictions/{task_id}", headers={"Authorization": "Bearer other"}).status_code == 404
    assert http.get(f"/v1/predictions/{task_id}").status_code == 401


def _raw(server: LiveServer, request: bytes) -> bytes:
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_declared_oversized_body_is_413_without_reading_it(server: LiveServer) -> None:
    answer = _raw(
        server,
        b"POST /v1/predictions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer k\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: 50000000\r\nConnection: close\r\n\r\n{",
    )
    assert answer.startswith(b"HTTP/1.1 413")
    assert b'"type":"invalid_params"' in answer


def test_non_utf8_body_over_the_wire_is_400(server: LiveServer) -> None:
    answer = _raw(
        server,
        b"POST /v1/predictions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer k\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: 4\r\nConnection: close\r\n\r\n\xff\xfe\xfd\xfc",
    )
    assert answer.startswith(b"HTTP/1.1 400")
    assert b"not valid UTF-8" in answer


def test_tasks_survive_a_restart_with_sqlite(tmp_path: Path) -> None:
    clock = FakeClock(1_800_000_000.0)
    settings = Settings(seed=5, store=f"sqlite:///{tmp_path / 'mock.db'}")
    body = EXAMPLES["create-prediction.video"]
    with serve_in_thread(create_app(settings, clock=clock)) as first, httpx2.Client(base_url=first.base_url) as c:
        task_id = c.post("/v1/predictions", json=body, headers=KEY).json()["data"]["task_id"]
    with serve_in_thread(create_app(settings, clock=clock)) as second, httpx2.Client(base_url=second.base_url) as c:
        assert c.get(f"/v1/predictions/{task_id}", headers=KEY).json()["data"]["task_status"] == "processing"
        advance(c, 120)
        assert [t["task_id"] for t in c.get("/_mock/tasks", params={"status": "success"}).json()["data"]] == [task_id]
        result = c.get(f"/v1/predictions/{task_id}", headers=KEY).json()
        decode("video", c.get(result["data"]["output"][0]["video"]))
        assert c.get("/v1/credits", headers=KEY).json()["data"]["total_usage"] == pytest.approx(result["usage"]["cost"])


def test_task_detail_lists_its_webhook_deliveries(http: httpx2.Client) -> None:
    received = threading.Event()

    async def hook(request: Request) -> Response:
        await request.body()
        received.set()
        return Response(status_code=204)

    receiver = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    with serve_in_thread(receiver) as live:
        body = {**EXAMPLES["create-prediction.audio"], "webhook": f"{live.base_url}/hook"}
        task_id = http.post("/v1/predictions", json=body, headers=KEY).json()["data"]["task_id"]
        advance(http, 60)
        assert received.wait(10)
        for _ in range(200):  # the journal entry lands right after the receiver answers
            deliveries = http.get(f"/_mock/tasks/{task_id}").json()["webhooks"]
            if deliveries and deliveries[0]["status"] == "delivered":
                break
            received.wait(0.01)
    assert [d["task_id"] for d in deliveries] == [task_id]
    assert deliveries[0]["status"] == "delivered"
