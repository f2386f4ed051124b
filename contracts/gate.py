"""The budget gate: a loopback reverse proxy that every request of a run goes through.

It sits in front of the target so the billable-call budget holds at the wire, whatever schemathesis does
internally (retries, re-sends on a dropped connection, checks that send extra requests). A billable call over
budget is not forwarded: the gate answers 418 with `X-Contracts-Gate: budget`. An upstream timeout or reset is
answered 502/504 with `X-Contracts-Gate: transport`. Both are the harness speaking, never the target.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import httpx2

from contracts.budget import Budget

__all__ = [
    "GATE_HEADER",
    "GATE_REFUSED_STATUS",
    "HINT_EXPECT_REJECT",
    "HINT_HEADER",
    "HINT_LIFECYCLE",
    "Gate",
    "GateLog",
    "Receive",
    "Route",
    "Scope",
    "Send",
]

GATE_HEADER = "x-contracts-gate"
GATE_REFUSED_STATUS = 418
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The harness's own hint of what a request is for; read by the gate, never forwarded.
HINT_HEADER = "x-contracts-hint"
HINT_EXPECT_REJECT = "reject"  # a schemathesis negative case: the target should refuse it
HINT_LIFECYCLE = "lifecycle"  # a lifecycle create: the budget is meant for these first
_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "accept-encoding", "upgrade"}
_HOP.add(HINT_HEADER)
_DROP_BACK = {"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"}

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    operation: str


@dataclass(slots=True)
class GateLog:
    """Counts of what went through: (operation, status) pairs, and transport troubles with their messages."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    transport: list[tuple[str, str]] = field(default_factory=list)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, operation: str, status: int) -> None:
        with self.lock:
            self.statuses[(operation, status)] += 1


class Gate:
    """ASGI app forwarding to `target`; `routes` maps (method, path template) to an operation id."""

    def __init__(
        self, target: str, budget: Budget, routes: list[Route], *, timeout: float = 30.0, keep_for_rejects: int = 0
    ) -> None:
        self.target = target.rstrip("/")
        self.keep_for_rejects = keep_for_rejects
        self.budget = budget
        self.routes = routes
        self.timeout = timeout
        self.log = GateLog()
        self._client: httpx2.AsyncClient | None = None

    def operation_of(self, method: str, path: str) -> str:
        parts = path.rstrip("/").split("/")
        for route in self.routes:
            template = route.path.rstrip("/").split("/")
            if (
                route.method == method
                and len(template) == len(parts)
                and all(t.startswith("{") or t == p for t, p in zip(template, parts, strict=True))
            ):
                return route.operation
        return f"{method} {path}" if path.startswith("/_mock") else "(not in the spec)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._client = httpx2.AsyncClient(timeout=self.timeout, follow_redirects=False)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._client is not None:
                    await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        method, path = scope["method"], scope["path"]
        operation = self.operation_of(method, path)
        # Conservative on purpose: any request that could create something (not only a well-formed
        # POST /v1/predictions; a target may route /V1/predictions/ or a PUT the same way) takes a slot, and
        # gives it back unless accepted. Only the mock's control surface is exempt.
        billable = method not in _SAFE_METHODS and not path.startswith("/_mock/")
        hint = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k.decode("latin-1").lower() == HINT_HEADER), ""
        )
        # The last slot is kept for requests the target should reject (released at once when it does), so a small
        # budget spent on valid creates still leaves negative testing of createPrediction possible; a target that
        # wrongly accepts one spends that slot, and the total still never exceeds the budget.
        keep = 0 if hint in (HINT_EXPECT_REJECT, HINT_LIFECYCLE) else self.keep_for_rejects
        if billable and not self.budget.try_reserve(keep=keep):
            with self.log.lock:
                self.log.refused += 1
            await _answer(
                send,
                GATE_REFUSED_STATUS,
                [(GATE_HEADER, "budget"), ("content-type", "application/json")],
                b'{"gate":"billable-call budget spent"}',
            )
            return
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"{self.target}{scope.get('raw_path', path.encode()).decode('latin-1')}" + (f"?{query}" if query else "")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        headers = [(k, v) for k, v in headers if k.lower() not in _HOP]
        assert self._client is not None
        try:
            response = await self._client.request(method, url, headers=headers, content=body)
        except (httpx2.TimeoutException, httpx2.TransportError) as exc:
            if billable:  # it may have been accepted: the slot stays spent
                self.budget.settle(accepted=True)
            status = 504 if isinstance(exc, httpx2.TimeoutException) else 502
            with self.log.lock:
                self.log.transport.append((operation, f"{method} {path}: {type(exc).__name__}: {exc}"))
            await _answer(send, status, [(GATE_HEADER, "transport")], str(exc).encode() or b"transport error")
            return
        if billable:
            self.budget.settle(accepted=200 <= response.status_code < 300)
        self.log.record(operation, response.status_code)
        back = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _DROP_BACK]
        await _answer(send, response.status_code, back, response.content)


async def _answer(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
