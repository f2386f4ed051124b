"""The contracts receiver as users run it: `shuyou-contracts receive` (or its older name `python -m
contracts.receiver`), and its control endpoints."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx2
import pytest

from contracts.receiver import WebhookReceiver
from mock_server.webhooks.settings import DEV_SECRET
from mock_server.webhooks.signing import Signer
from tests._support import eventually, free_port

BODY = json.dumps({"code": "0", "data": {"task_id": "a" * 32, "task_status": "failed"}, "request_id": "b" * 32})


def signed(msg_id: str = "msg_1") -> dict[str, str]:
    return Signer([DEV_SECRET]).headers(msg_id, int(time.time()), BODY.encode())


@pytest.fixture(params=[("contracts", "receive"), ("contracts.receiver",)], ids=["receive", "alias"])
def cli_receiver(request: pytest.FixtureRequest) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", *request.param, "--port", str(port), "--secret", DEV_SECRET]
    proc = subprocess.Popen([*command, "--script", "503,200", "--retry-after", "9"], stdout=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            assert proc.poll() is None, "the receiver exited"
            try:
                return httpx2.get(f"{base}/deliveries", timeout=1).status_code == 200
            except httpx2.TransportError:
                return False

        eventually(up, interval=0.05)
        yield base
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        assert b"/webhook" in out


def test_cli_receiver_follows_its_script_and_records_everything(cli_receiver: str) -> None:
    first = httpx2.post(f"{cli_receiver}/webhook", content=BODY, headers=signed())
    second = httpx2.post(f"{cli_receiver}/webhook", content=BODY, headers=signed())
    forged = httpx2.post(f"{cli_receiver}/webhook", content=BODY + " ", headers=signed())
    assert (first.status_code, first.headers["retry-after"]) == (503, "9")
    assert second.status_code == 200
    assert forged.status_code == 401
    got = httpx2.get(f"{cli_receiver}/deliveries").json()["deliveries"]
    assert [(d["answered"], d["verified"]) for d in got] == [(503, True), (200, True), (401, False)]
    assert [d["seq"] for d in httpx2.get(f"{cli_receiver}/deliveries", params={"after": 2}).json()["deliveries"]] == [3]


def test_behaviour_endpoint_changes_the_answers() -> None:
    with WebhookReceiver([DEV_SECRET]) as receiver:
        changed = httpx2.post(f"{receiver.base_url}/behaviour", json={"script": [500], "status": 202})
        assert changed.json()["script"] == [500]
        assert httpx2.post(receiver.url, content=BODY, headers=signed()).status_code == 500
        assert httpx2.post(receiver.url, content=BODY, headers=signed()).status_code == 202
        bad = httpx2.post(f"{receiver.base_url}/behaviour", json={"status": 42})
        assert bad.status_code == 400
        assert "100..599" in bad.json()["error"]
        assert httpx2.delete(f"{receiver.base_url}/deliveries").status_code == 204
        assert receiver.deliveries() == []


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver([DEV_SECRET]) as r:
        yield r


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param('{"status": 1e309}', "status", id="status-infinite"),
        pytest.param('{"status": NaN}', "status", id="status-nan"),
        pytest.param('{"status": 200.5}', "status", id="status-fraction"),
        pytest.param('{"status": true}', "status", id="status-bool"),
        pytest.param('{"status": 1' + "0" * 30 + "}", "status", id="status-huge"),
        pytest.param('{"status": "ok"}', "status", id="status-text"),
        pytest.param('{"script": [200, 1e309]}', r"script\[1\]", id="script-item-infinite"),
        pytest.param('{"script": 500}', "script", id="script-not-a-list"),
        pytest.param('{"delay": 1' + "0" * 400 + "}", "delay", id="delay-int-too-large-for-a-float"),
        pytest.param('{"delay": "soon"}', "delay", id="delay-text"),
    ],
)
def test_bad_behaviour_values_are_400_naming_the_field(receiver: WebhookReceiver, body: str, field: str) -> None:
    before = httpx2.get(f"{receiver.base_url}/behaviour").json()
    response = httpx2.post(f"{receiver.base_url}/behaviour", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert re.match(f"{field}: ", response.json()["error"])
    assert httpx2.get(f"{receiver.base_url}/behaviour").json() == before


def test_body_that_breaks_the_spec_schema_is_answered_422() -> None:
    with WebhookReceiver([DEV_SECRET]) as receiver:
        body = json.dumps({"data": {"task_id": "a" * 32}}).encode()
        headers = Signer([DEV_SECRET]).headers("msg_2", int(time.time()), body)
        assert httpx2.post(receiver.url, content=body, headers=headers).status_code == 422
        (got,) = receiver.wait_for(1)
    assert got["verified"] is True
    assert got["schema_errors"]
