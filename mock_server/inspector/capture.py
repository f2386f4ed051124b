"""The bodies behind the request journal: the last `size` JSON/text request and response bodies.

A pure-ASGI middleware inside `MockMiddleware` (which sets `state["request_id"]`), so each body pair is
found by the journal entry's `request_id`. Bounded twice: `size` pairs (oldest dropped) and `max_bytes`
per body (the rest cut, marked `truncated`). Binary bodies (result files) and the inspector's own
requests are not kept. The cost is two closures per request (bench/bench_inspector.py measures the
API with it on).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLog", "CaptureMiddleware", "Exchange"]

_TEXTUAL = (b"application/json", b"text/", b"application/problem+json", b"application/yaml")
_SKIP = ("/_mock/ui", "/_mock/inspector", "/files/", "/openapi.")


@dataclass(frozen=True, slots=True)
class Exchange:
    request_body: str
    response_body: str
    request_truncated: bool
    response_truncated: bool


class BodyLog:
    """request_id -> Exchange, newest `size` kept."""

    def __init__(self, size: int = 200, max_bytes: int = 16_384) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._items: collections.OrderedDict[str, Exchange] = collections.OrderedDict()

    def put(self, request_id: str, exchange: Exchange) -> None:
        self._items[request_id] = exchange
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def get(self, request_id: str) -> Exchange | None:
        return self._items.get(request_id)

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._items

    def clear(self) -> None:
        self._items.clear()


def _text(chunks: list[bytes], limit: int) -> tuple[str, bool]:
    raw = b"".join(chunks)
    return raw[:limit].decode("utf-8", "replace"), len(raw) > limit


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
            request_id = scope.get("state", {}).get("request_id")
            if request_id is not None:
                request_text, request_cut = _text(request_chunks, limit)
                response_text, response_cut = _text(response_chunks, limit) if textual[0] else ("", False)
                self.log.put(request_id, Exchange(request_text, response_text, request_cut, response_cut))
