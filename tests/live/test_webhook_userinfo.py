"""DECISIONS 7 allows `user:password@` in a webhook URL: the delivery carries it as Basic auth, on a real socket."""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
from collections.abc import Iterator

import httpx2
import pytest

from mock_server.webhooks.delivery import HttpSender
from mock_server.webhooks.transport import KeepAliveTransport

pytestmark = pytest.mark.anyio


@contextlib.contextmanager
def raw_receiver() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback socket that answers one request 204 and keeps its raw bytes (headers included): (port, received)."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def answer_once() -> None:
        conn, _ = listener.accept()
        with conn:
            received.append(conn.recv(65536))
            conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer_once, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], received
        thread.join(5)
    finally:
        listener.close()


async def test_userinfo_is_sent_as_basic_auth_and_not_in_the_request_line() -> None:
    with raw_receiver() as (port, received):
        async with httpx2.AsyncClient(transport=KeepAliveTransport()) as client:
            answer = await HttpSender(client, timeout=5.0).send(f"http://hook:s3cret@127.0.0.1:{port}/hook", {}, b"{}")
    assert answer.status_code == 204
    head = received[0].split(b"\r\n\r\n")[0].decode()
    assert head.startswith("POST /hook HTTP/1.1\r\n")
    assert f"Authorization: Basic {base64.b64encode(b'hook:s3cret').decode()}" in head.split("\r\n")
    assert "s3cret" not in head.replace(base64.b64encode(b"hook:s3cret").decode(), "")
