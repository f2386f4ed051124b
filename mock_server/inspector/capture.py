"""The bodies behind the request journal: the last `size` JSON/text request and response bodies.

A pure-ASGI middleware inside `MockMiddleware` (which opens the `RequestNote` with the request id), so each body pair is
found by the journal entry's `request_id`. Bounded twice: `size` pairs (oldest dropped) and `max_bytes`
per body (the rest cut, marked `truncated`). Binary bodies (result files) and the inspector's own
requests are not kept. The API's operations, which `MockMiddleware` answers without the router, reach this
log through `keep`: a plain tuple per request, the `Exchange` built only when the inspector reads it (the
NamedTuple's constructor and the `put` call were ~11,000 of ~176,000 instructions per GET, callgrind,
2026-12-02; now ~2,000).
"""

from __future__ import annotations

import collections
from typing import NamedTuple

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.note import note

__all__ = ["BodyLog", "CaptureMiddleware", "Exchange"]

_TEXTUAL = (b"application/json", b"text/", b"application/problem+json", b"application/yaml")
_SKIP = ("/_mock/ui", "/_mock/inspector", "/files/", "/openapi.")


class Exchange(NamedTuple):
    """One request's bodies as received and sent (cut at `max_bytes`); decoded only when shown."""

    request: bytes
    response: bytes
    request_truncated: bool
    response_truncated: bool

    @property
    def request_body(self) -> str:
        return self.request.decode("utf-8", "replace")

    @property
    def response_body(self) -> str:
        return self.response.decode("utf-8", "replace")


class BodyLog:
    """request_id -> Exchange, newest `size` kept."""

    def __init__(self, size: int = 200, max_bytes: int = 16_384) -> None:
        self.size = size
        self.max_bytes = max_bytes
        # request_id -> (request, response, request cut, response cut): an Exchange's fields, as a plain tuple
        self._items: collections.OrderedDict[str, tuple[bytes, bytes, bool, bool]] = collections.OrderedDict()

    def put(self, request_id: str, exchange: Exchange) -> None:
        items = self._items
        items[request_id] = exchange
        if len(items) > self.size:
            items.popitem(last=False)

    def keep(self, request_id: str, request: bytes, response: bytes) -> None:
        """`put` for bodies read whole (the middleware's direct API path), each cut at `max_bytes`."""
        limit = self.max_bytes
        items = self._items
        if len(request) > limit or len(response) > limit:
            items[request_id] = (request[:limit], response[:limit], len(request) > limit, len(response) > limit)
        else:
            items[request_id] = (request, response, False, False)
        if len(items) > self.size:
            items.popitem(last=False)

    def get(self, request_id: str) -> Exchange | None:
        found = self._items.get(request_id)
        return None if found is None else Exchange._make(found)

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._items

    def clear(self) -> None:
        self._items.clear()


def _joined(chunks: list[bytes], limit: int) -> tuple[bytes, bool]:
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return (raw[:limit], True) if len(raw) > limit else (raw, False)


class CaptureMiddleware:
    def __init__(self, app: ASGIApp, log: BodyLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(_SKIP):
            await self.app(scope, receive, send)
            return
        limit = self.log.max_bytes
        request_chunks: list[bytes] = []
        response_chunks: list[bytes] = []
        seen = [0, 0]
        textual = [False]

        async def receive_wrapper() -> Message:
            message = await receive()
            body = message.get("body", b"")
            if body and seen[0] <= limit:
                request_chunks.append(body)
                seen[0] += len(body)
            return message

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                content_type = next((v for k, v in message.get("headers", ()) if k == b"content-type"), b"")
                textual[0] = content_type.startswith(_TEXTUAL)
            elif textual[0]:
                body = message.get("body", b"")
                if body and seen[1] <= limit:
                    response_chunks.append(body)
                    seen[1] += len(body)
            await send(message)

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        finally:
            request_id = note(scope).request_id
            if request_id is not None:
                request, request_cut = _joined(request_chunks, limit) if request_chunks else (b"", False)
                response, response_cut = _joined(response_chunks, limit) if response_chunks else (b"", False)
                self.log.put(request_id, Exchange(request, response, request_cut, response_cut))
