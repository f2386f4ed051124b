"""Kill -9 the mock in the middle of retries; a new process on the same SQLite file finishes the delivery."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from contracts.receiver import WebhookReceiver
from mock_server.webhooks.settings import DEV_SECRET
from tests._support import eventually, free_port

# A mock on a FakeClock (moved through POST /_mock/clock/advance) with retries 10 s apart.
SERVE = """
import sys, uvicorn
from mock_server.app import create_app
from mock_server.clock import FakeClock
from mock_server.settings import Settings
from mock_server.webhooks.settings import WebhookSettings
db, port, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
settings = Settings(store=f"sqlite:///{db}", webhooks=WebhookSettings(backoff_base=10.0, jitter=0.0))
uvicorn.run(create_app(settings, clock=FakeClock(start=start)), host="127.0.0.1", port=port, log_level="warning")
"""


@contextmanager
def mock_process(db: Path, start: float) -> Iterator[httpx2.Client]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVE, str(db), str(port), str(start)])
    client = httpx2.Client(base_url=f"http://127.0.0.1:{port}", headers={"authorization": "Bearer k"})

    def up() -> bool:
        assert proc.poll() is None, "the mock process exited"
        try:
            return client.get("/_mock/health").status_code == 200
        except httpx2.TransportError:
            return False

    try:
        eventually(up)
        yield client
    finally:
        client.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)


def deliveries(client: httpx2.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get("/_mock/webhooks").json()["deliveries"]
    return found


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver([DEV_SECRET]) as r:
        yield r


def test_delivery_survives_kill_9_and_completes_after_restart(receiver: WebhookReceiver, tmp_path: Path) -> None:
    receiver.set_behaviour(script=[500])
    db, start = tmp_path / "mock.db", time.time()
    body = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "fox"}, "webhook": receiver.url}
    with mock_process(db, start) as first:
        created = first.post("/v1/predictions", json=body, headers={"X-Mock-Duration": "1"})
        task_id = created.json()["data"]["task_id"]
        first.post("/_mock/clock/advance", json={"seconds": 1})
        receiver.wait_for(1)
        eventually(lambda: [len(d["attempts"]) for d in deliveries(first)] == [1])
    # the first process is gone (SIGKILL, no shutdown); the second starts where the clock was
    with mock_process(db, start + 1) as second:
        (pending,) = deliveries(second)
        assert pending["status"] == "pending"
        assert pending["task_id"] == task_id
        second.post("/_mock/clock/advance", json={"seconds": 10})
        receiver.wait_for(2)
        eventually(lambda: deliveries(second)[0]["status"] == "delivered")
        (done,) = deliveries(second)
    assert [a["status_code"] for a in done["attempts"]] == [500, 200]
    assert [d["answered"] for d in receiver.deliveries()] == [500, 200]
    assert len({d["webhook_id"] for d in receiver.deliveries()}) == 1
    assert all(d["verified"] for d in receiver.deliveries())
