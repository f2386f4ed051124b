"""The webhook sender's HTTP/1.1 transport and its error translation, against scripted loopback servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import httpx2
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from mock_server.webhooks.delivery import DeliveryFailed, HttpSender
from mock_server.webhooks.transport import KeepAliveTransport

pytestmark = pytest.mark.anyio

Answer = Callable[[int], bytes]  # request number (from 1) -> raw bytes to answer


@asynccontextmanager
async def server(
    answer: Answer, *, close_after: bool = False, closed: anyio.Event | None = None
) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP server on 127.0.0.1:0 answering each request with `answer(n)`; yields its URL and connection count.
    `closed` is set each time the server has closed a connection."""
    connections: list[int] = []
    count = 0
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)

    async def handle(stream: anyio.abc.SocketStream) -> None:
        try:
            await converse(stream)
        finally:
            if closed is not None:
                closed.set()

    async def converse(stream: anyio.abc.SocketStream) -> None:
        nonlocal count
        connections.append(1)
        reader = BufferedByteReceiveStream(stream)
        async with stream:
            while True:
                try:
                    head = await reader.receive_until(b"\r\n\r\n", 65536)
                except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError):
                    return
                length = next(
                    (int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")), 0
                )
                await reader.receive_exactly(length)
                count += 1
                try:
                    await stream.send(answer(count))
                except (anyio.BrokenResourceError, OSError):
                    return  # the client hung up on a long answer
                if close_after:
                    return

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        yield f"http://127.0.0.1:{port}/hook", connections
        tg.cancel_scope.cancel()


def fixed(status: int, body: bytes = b"ok", *extra: bytes) -> Answer:
    head = b"".join(h + b"\r\n" for h in extra)
    return lambda n: b"HTTP/1.1 %d X\r\ncontent-length: %d\r\n%s\r\n%s" % (status, len(body), head, body)


@asynccontextmanager
async def client() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=KeepAliveTransport(), trust_env=False) as c:
        yield c


async def test_keep_alive_reuses_one_connection() -> None:
    async with server(fixed(200, b"fine")) as (url, conns), client() as c:
        for _ in range(3):
            response = await c.post(url, content=b"{}")
            assert response.status_code == 200
            assert response.content == b"fine"
    assert len(conns) == 1


async def test_chunked_answer_is_reassembled() -> None:
    chunked = (
        b"HTTP/1.1 503 X\r\ntransfer-encoding: chunked\r\nretry-after: 4\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
    )
    async with server(lambda n: chunked) as (url, _), client() as c:
        response = await c.post(url, content=b"{}")
    assert response.status_code == 503
    assert response.content == b"abcde"
    assert response.headers["retry-after"] == "4"


async def test_connection_close_and_unframed_bodies() -> None:
    async with (
        server(lambda n: b"HTTP/1.0 202 X\r\n\r\nuntil the end", close_after=True) as (url, conns),
        client() as c,
    ):
        first = await c.post(url, content=b"{}")
        second = await c.post(url, content=b"{}")
    assert (first.status_code, first.content) == (202, b"until the end")
    assert second.status_code == 202
    assert len(conns) == 2


async def test_a_silently_closed_keep_alive_connection_is_retried_on_a_new_one() -> None:
    closed = anyio.Event()
    async with server(fixed(200), close_after=True, closed=closed) as (url, conns), client() as c:
        assert (await c.post(url, content=b"{}")).status_code == 200
        with anyio.fail_after(10):
            await closed.wait()  # the server has closed the connection the client keeps alive
        assert (await c.post(url, content=b"{}")).status_code == 200
    assert len(conns) == 2


async def test_large_answers_are_truncated_and_the_excerpt_is_bounded() -> None:
    big = b"x" * 200_000
    async with server(fixed(500, big)) as (url, conns), client() as c:
        sender = HttpSender(c, timeout=2.0, excerpt_limit=100)
        answer = await sender.send(url, {"content-type": "application/json"}, b"{}")
        again = await sender.send(url, {}, b"{}")
    assert answer.status_code == 500
    assert answer.excerpt == "x" * 100
    assert again.status_code == 500
    assert len(conns) == 2  # a truncated answer's connection is not reused


async def test_interim_1xx_answers_are_skipped_and_the_connection_kept() -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n" + fixed(201, b"made")(1)
    async with server(lambda n: answer) as (url, conns), client() as c:
        for _ in range(2):
            response = await c.post(url, content=b"{}")
            assert (response.status_code, response.content) == (201, b"made")
    assert len(conns) == 1


async def test_connection_close_header_is_honoured_even_if_the_server_keeps_the_socket_open() -> None:
    async with server(fixed(200, b"ok", b"connection: close")) as (url, conns), client() as c:
        for _ in range(2):
            assert (await c.post(url, content=b"{}")).status_code == 200
    assert len(conns) == 2


async def test_large_chunked_answers_are_truncated_and_not_reused() -> None:
    chunk = b"y" * 50_000
    answer = (
        b"HTTP/1.1 500 X\r\ntransfer-encoding: chunked\r\n\r\n" + (b"c350\r\n" + chunk + b"\r\n") * 3 + b"0\r\n\r\n"
    )
    async with server(lambda n: answer) as (url, conns), client() as c:
        first = await c.post(url, content=b"{}")
        second = await c.post(url, content=b"{}")
    assert first.status_code == second.status_code == 500
    assert 0 < len(first.content) <= 64 * 1024
    assert first.content == b"y" * len(first.content)
    assert len(conns) == 2


async def test_a_fresh_connection_closed_mid_answer_becomes_delivery_failed_transport() -> None:
    cut = b"HTTP/1.1 200 X\r\ncontent-length: 10\r\n\r\nabc"
    async with server(lambda n: cut, close_after=True) as (url, conns), client() as c:
        with pytest.raises(DeliveryFailed) as failure:
            await HttpSender(c, timeout=2.0).send(url, {}, b"{}")
    assert failure.value.kind == "transport"
    assert "closed the connection mid-answer" in str(failure.value)
    assert len(conns) == 1  # a fresh connection is not retried


async def test_refused_connection_becomes_delivery_failed_connect() -> None:
    async with server(fixed(200)) as (url, _):
        pass  # the port is closed again
    async with client() as c:
        with pytest.raises(DeliveryFailed) as failure:
            await HttpSender(c, timeout=2.0).send(url, {}, b"{}")
    assert failure.value.kind == "connect"
    assert isinstance(failure.value.__cause__, httpx2.ConnectError)


async def test_no_answer_within_the_timeout_becomes_delivery_failed_timeout() -> None:
    async with server(lambda n: b"") as (url, _), client() as c:
        with pytest.raises(DeliveryFailed) as failure:
            await HttpSender(c, timeout=0.05).send(url, {}, b"{}")
    assert failure.value.kind == "timeout"
    assert failure.value.latency_ms >= 40


async def test_malformed_answer_becomes_delivery_failed_transport() -> None:
    async with server(lambda n: b"SMTP ready\r\n\r\n") as (url, _), client() as c:
        with pytest.raises(DeliveryFailed) as failure:
            await HttpSender(c, timeout=2.0).send(url, {}, b"{}")
    assert failure.value.kind == "transport"


async def test_https_goes_to_the_fallback_transport() -> None:
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        return httpx2.Response(204)

    transport = KeepAliveTransport(fallback=httpx2.MockTransport(handler))
    async with httpx2.AsyncClient(transport=transport) as c:
        assert (await c.post("https://hooks.test/x", content=b"{}")).status_code == 204
    assert seen == ["https://hooks.test/x"]
