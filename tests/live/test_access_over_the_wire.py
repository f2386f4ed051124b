"""The access rules over a real uvicorn socket: what a DNS-rebinding or cross-site page actually gets."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx2
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.app import create_app
from mock_server.clock import FakeClock
from mock_server.settings import Settings
from mock_server.testing import LiveServer, serve_in_thread

KEY = {"Authorization": "Bearer sk-live-0123456789abcdef"}
BODY = {"model": "gemini-2.5-flash-image", "function": "image", "input": {"prompt": "a cat"}}


@pytest.fixture
def server() -> Iterator[LiveServer]:
    settings = Settings(seed=3, allowed_hosts=("mock.internal",), admin_token="t0k")
    with serve_in_thread(create_app(settings, clock=FakeClock(1_800_000_000.0))) as live:
        yield live
        live.app.state.mock.journal.check()


def _raw(server: LiveServer, head: str, end: str = "Connection: close\r\n\r\n") -> tuple[int, dict[str, str], str]:
    """One request written by hand, so the Host header is exactly what a rebinding page's browser sends."""
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall((head + end).encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head_text, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head_text.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body.decode()


def test_rebinding_page_gets_421_and_no_keys(server: LiveServer) -> None:
    with httpx2.Client(base_url=server.base_url) as http:
        assert http.post("/v1/predictions", json=BODY, headers=KEY).status_code == 200
    status, _, body = _raw(server, "GET /_mock/requests HTTP/1.1\r\nHost: rebind.example:8000\r\n")
    assert status == 421
    assert json.loads(body)["error"]["type"] == "access_denied"
    assert "Host: 'rebind.example:8000'" in json.loads(body)["error"]["message"]
    assert "sk-live" not in body


def test_loopback_and_configured_names_read_the_journal_with_masked_keys(server: LiveServer) -> None:
    with httpx2.Client(base_url=server.base_url) as http:
        http.post("/v1/predictions", json=BODY, headers=KEY)
        data = http.get("/_mock/requests").json()["data"]
    assert [e["key"] for e in data if e["path"] == "/v1/predictions"] == ["…cdef"]
    status, _, body = _raw(server, "GET /_mock/requests HTTP/1.1\r\nHost: mock.internal:8000\r\n")
    assert status == 200
    assert "sk-live-0123456789abcdef" not in body


def test_cross_site_post_changes_nothing(server: LiveServer) -> None:
    with httpx2.Client(base_url=server.base_url) as http:
        task_id = http.post("/v1/predictions", json=BODY, headers=KEY).json()["data"]["task_id"]
        refused = http.post("/_mock/reset", headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403
        assert "Origin" in refused.json()["error"]["message"]
        assert http.get(f"/v1/predictions/{task_id}", headers=KEY).status_code == 200
        advanced = http.post("/_mock/clock/advance", json={"seconds": 60}, headers={"Origin": server.base_url})
        assert advanced.status_code == 200
        assert http.get(f"/v1/predictions/{task_id}", headers=KEY).json()["data"]["task_status"] == "success"


def _from_elsewhere(app: ASGIApp) -> ASGIApp:
    """Stand-in for a peer on another machine: the socket stays on loopback (tests never listen on the network)."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, "client": ("10.0.0.2", 50000)} if scope["type"] == "http" else scope, receive, send)

    return asgi


def test_another_machine_needs_the_token_over_the_wire() -> None:
    app = create_app(Settings(seed=3, host="0.0.0.0", admin_token="t0k"), clock=FakeClock(1_800_000_000.0))
    with serve_in_thread(_from_elsewhere(app)) as live:
        post = "POST /_mock/clock/advance HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        framing = 'Content-Length: 14\r\nConnection: close\r\n\r\n{"seconds": 1}'
        status, _, body = _raw(live, post, framing)
        assert status == 401
        assert "X-Mock-Token: missing" in body
        status, _, _ = _raw(live, post + "X-Mock-Token: t0k\r\n", framing)
        assert status == 200
        status, headers, _ = _raw(live, "GET /_mock/ui?token=t0k HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert "HttpOnly" in headers["set-cookie"]
        assert "SameSite=Strict" in headers["set-cookie"]
        cookie = headers["set-cookie"].split(";", 1)[0]
        status, _, _ = _raw(live, f"GET /_mock/requests HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n")
        assert status == 200
