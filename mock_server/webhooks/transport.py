"""A lean keep-alive HTTP/1.1 transport for `httpx2.AsyncClient`, used for plain `http://` webhooks.

Why the pool is hand-written: httpcore's pool costs about 1 ms of CPU per request on this 2-core
machine, which caps delivery near 700/s; webhook receivers in development are loopback `http://`
servers, for which a list of idle connections per host, no pipelining and one retry on a reused
connection the server closed meanwhile are enough. Everything else (`https://`, proxies) goes to
httpx2's default transport. Failures are raised as httpx2 exceptions, so `delivery._translated()`
stays the one place that maps them.

Why the HTTP/1.1 framing is hand-written too (`_head`, `_read_response`, `_read_chunked`: a client's
subset only, Content-Length / chunked / read-to-close answers, 1xx skipped, `Connection` honoured,
answers cut at 64 KiB): the house rule prefers a library, and h11 (one `h11.Connection` per pooled
connection, `start_next_cycle()` after each answer) was tried and measured on 2026-11-26 on this
2-core VM, alternating with this version in the same run: it passed the same tests but costs about
80 us of CPU per request/answer cycle (transport alone: ~390 us vs ~265 us of client CPU per POST),
and the engine burst of `bench/bench_webhooks.py` fell below the 2,000 deliveries/s target: h11
947-1,921/s (median 1,573, never >= 2,000 in 18 bursts) vs this parser 1,093-2,633/s (median 2,210,
>= 2,000 in 12 of 18; the VM was shared, load 1.4-2.9). `tests/live/test_webhook_transport.py` pins
every case the parser handles.
"""

from __future__ import annotations

from collections import defaultdict

import anyio
import anyio.abc
import httpx2
from anyio.streams.buffered import BufferedByteReceiveStream

__all__ = ["KeepAliveTransport"]

_MAX_HEAD = 64 * 1024
_MAX_BODY = 64 * 1024  # larger answers are truncated and their connection is not reused


class _Connection:
    __slots__ = ("reader", "stream")

    def __init__(self, stream: anyio.abc.SocketStream) -> None:
        self.stream = stream
        self.reader = BufferedByteReceiveStream(stream)


class KeepAliveTransport(httpx2.AsyncBaseTransport):
    """HTTP/1.1 with a small idle-connection pool per host; `https://` goes to `fallback`."""

    def __init__(self, *, max_idle_per_host: int = 64, fallback: httpx2.AsyncBaseTransport | None = None) -> None:
        self._idle: defaultdict[tuple[str, int], list[_Connection]] = defaultdict(list)
        self._max_idle = max_idle_per_host
        # The default https:// transport is built on the first https:// webhook: its SSL context loads the CA
        # bundle, ~90 ms of CPU at startup (2026-12-02) that a mock delivering to loopback http:// never needs.
        self._fallback = fallback

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.scheme != "http":
            if self._fallback is None:
                self._fallback = httpx2.AsyncHTTPTransport(trust_env=False)
            return await self._fallback.handle_async_request(request)
        host, port = request.url.host, request.url.port or 80
        body = await request.aread()
        head = self._head(request, body)
        for _ in range(2):  # a reused connection may have been closed by the server meanwhile: retry once
            conn, reused = await self._checkout(host, port)
            try:
                await conn.stream.send(head + body)
                status, headers, answer, keep = await self._read_response(conn, request.method)
            except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, OSError) as exc:
                await anyio.aclose_forcefully(conn.stream)
                if reused:
                    continue  # webhooks are at-least-once, so a possible double send is acceptable
                if isinstance(exc, anyio.IncompleteRead):
                    raise httpx2.RemoteProtocolError(
                        "the server closed the connection mid-answer", request=request
                    ) from exc
                raise httpx2.ReadError(f"connection to {host}:{port} broke: {exc!r}", request=request) from exc
            except (anyio.DelimiterNotFound, ValueError) as exc:
                await anyio.aclose_forcefully(conn.stream)
                raise httpx2.RemoteProtocolError(f"malformed HTTP answer: {exc}", request=request) from exc
            except BaseException:
                await anyio.aclose_forcefully(conn.stream)  # cancelled (timeout) mid-request: never reuse
                raise
            if keep and len(self._idle[(host, port)]) < self._max_idle:
                self._idle[(host, port)].append(conn)
            else:
                await anyio.aclose_forcefully(conn.stream)
            return httpx2.Response(status, headers=headers, stream=httpx2.ByteStream(answer), request=request)
        raise httpx2.ReadError(f"connection to {host}:{port} broke twice", request=request)  # pragma: no cover

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                await anyio.aclose_forcefully(conn.stream)
        self._idle.clear()
        if self._fallback is not None:
            await self._fallback.aclose()

    async def _checkout(self, host: str, port: int) -> tuple[_Connection, bool]:
        idle = self._idle[(host, port)]
        if idle:
            return idle.pop(), True
        try:
            stream = await anyio.connect_tcp(host, port)
        except OSError as exc:
            raise httpx2.ConnectError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from exc
        return _Connection(stream), False

    @staticmethod
    def _head(request: httpx2.Request, body: bytes) -> bytes:
        target = request.url.raw_path or b"/"
        lines = [request.method.encode() + b" " + target + b" HTTP/1.1"]
        for name, value in request.headers.raw:
            if name.lower() not in (b"content-length", b"transfer-encoding", b"connection"):
                lines.append(name + b": " + value)
        lines.append(b"content-length: " + str(len(body)).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n"

    @staticmethod
    async def _read_response(conn: _Connection, method: str) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        while True:
            raw = await conn.reader.receive_until(b"\r\n\r\n", _MAX_HEAD)
            status_line, *header_lines = raw.split(b"\r\n")
            version, _, rest = status_line.partition(b" ")
            status = int(rest[:3])
            if not version.startswith(b"HTTP/1.") or not 100 <= status <= 599:
                raise ValueError(f"bad status line {status_line[:80]!r}")
            if status >= 200 or status == 101:
                break  # 1xx interim answers are skipped
        headers: list[tuple[bytes, bytes]] = []
        length: int | None = None
        chunked = False
        keep = version == b"HTTP/1.1"
        for line in header_lines:
            name, sep, value = line.partition(b":")
            if not sep:
                raise ValueError(f"bad header line {line[:80]!r}")
            name, value = name.strip().lower(), value.strip()
            headers.append((name, value))
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                keep = b"close" not in value.lower() and (keep or b"keep-alive" in value.lower())
        if method == "HEAD" or status in (204, 304):
            return status, headers, b"", keep
        if chunked:
            return status, headers, *await KeepAliveTransport._read_chunked(conn, keep)
        if length is not None:
            if length > _MAX_BODY:
                return status, headers, await conn.reader.receive_exactly(_MAX_BODY), False
            return status, headers, await conn.reader.receive_exactly(length), keep
        body = bytearray()  # no framing: the body runs to the end of the connection
        try:
            while len(body) < _MAX_BODY:
                body += await conn.reader.receive()
        except anyio.EndOfStream:
            pass
        return status, headers, bytes(body[:_MAX_BODY]), False

    @staticmethod
    async def _read_chunked(conn: _Connection, keep: bool) -> tuple[bytes, bool]:
        body = bytearray()
        while True:
            size_line = await conn.reader.receive_until(b"\r\n", 1024)
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while await conn.reader.receive_until(b"\r\n", _MAX_HEAD):  # trailers, then the empty line
                    pass
                return bytes(body), keep
            if len(body) + size > _MAX_BODY:
                return bytes(body), False
            body += await conn.reader.receive_exactly(size)
            await conn.reader.receive_exactly(2)
