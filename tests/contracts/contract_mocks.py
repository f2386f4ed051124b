"""The real mock, served on loopback, optionally wrapped in one small ASGI middleware that breaks one rule."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from contracts.report import RunResult
from contracts.runner import Options, run
from contracts.serving import Served, serve_in_thread
from mock_server import FakeClock, Settings, create_app

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
KEY = "sk-contracts-test"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
App = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


async def read_body(receive: Any) -> bytes:
    """The whole request body of an ASGI `receive`."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


@dataclass(slots=True)
class Exchange:
    """What the middleware lets a variant see and change: the request, then the response."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    response_body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.response_body)

    def set_json(self, value: Any, status: int | None = None) -> None:
        self.response_body = json.dumps(value).encode()
        if status is not None:
            self.status = status


RequestHook = Callable[[Exchange], None]
ResponseHook = Callable[[Exchange], None]


class Rewrite:
    """ASGI middleware: `on_request` may change the request, `on_response` the buffered response."""

    def __init__(self, app: App, *, on_request: RequestHook | None = None, on_response: ResponseHook | None = None):
        self.app = app
        self.on_request = on_request
        self.on_response = on_response

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_mock"):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        exchange = Exchange(scope["method"], scope["path"], headers, body)
        if self.on_request is not None:
            self.on_request(exchange)
            scope = dict(scope)
            scope["headers"] = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in exchange.headers.items()]
            if exchange.path != scope["path"]:
                scope["path"], scope["raw_path"] = exchange.path, exchange.path.encode("latin-1")
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": exchange.body, "more_body": False}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                exchange.response_headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                exchange.response_body += message.get("body", b"")
                if not message.get("more_body"):
                    await self._flush(exchange, send)

        await self.app(scope, replay, capture)

    async def _flush(self, exchange: Exchange, send: Any) -> None:
        if self.on_response is not None and exchange.response_headers is not None:
            self.on_response(exchange)
        headers = [(k, v) for k, v in exchange.response_headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(exchange.response_body)).encode()))
        await send({"type": "http.response.start", "status": exchange.status, "headers": headers})
        await send({"type": "http.response.body", "body": exchange.response_body})


def harness(base_url: str, **changes: Any) -> RunResult:
    """A quiet harness run with small example counts."""
    options: dict[str, Any] = {"seed": 3, "max_examples": 5, "webhook_secret": SECRET, "timeout": 600.0} | changes
    return run(Options(base_url=base_url, api_key=KEY, **options), progress=lambda _: None)


def build_mock(*, secret: str = SECRET, **settings: Any) -> Any:
    """The mock app on a fake clock (the harness advances it) with a known webhook secret."""
    return create_app(Settings(seed=7, webhook_secret=secret, **settings), clock=FakeClock(1_700_000_000.0))


def serve(app: Any) -> Served:
    return serve_in_thread(app)


class TamperProxy:
    """A loopback hop for webhooks: forwards each delivery (`copies` times) to `?to=<url>` after `tamper(body)`."""

    def __init__(self, tamper: Callable[[dict[str, Any]], dict[str, Any]], *, copies: int = 1) -> None:
        self.tamper = tamper
        self.copies = copies

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        import urllib.parse

        import httpx2

        if scope["type"] != "http":
            return
        body = await read_body(receive)
        target = urllib.parse.parse_qs(scope["query_string"].decode())["to"][0]
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k.decode().startswith("webhook-")} | {
            "content-type": "application/json"
        }
        tampered = json.dumps(self.tamper(json.loads(body))).encode()
        async with httpx2.AsyncClient() as client:
            for copy in range(self.copies):  # copies after the first are new events (a new webhook-id)
                extra = {"webhook-id": f"{headers.get('webhook-id', 'msg')}-{copy}"} if copy else {}
                answer = await client.post(target, content=tampered, headers=headers | extra)
        await send({"type": "http.response.start", "status": answer.status_code, "headers": []})
        await send({"type": "http.response.body", "body": b""})
