"""`shuyou-mock proxy --target URL --record run.cassette`: a recording, validating reverse proxy.

Every request is forwarded to `--target` (and only there), every exchange is written to the cassette
(`openapi.cassette`, secrets redacted), and each answer of a spec operation is validated against the spec as it
passes: a violation is logged at once, one line naming the request, the status and the broken rule (like Prism's
validation proxy). The answer itself goes back to the client unchanged.
"""

from __future__ import annotations

import re
import sys
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
from starlette.types import Receive, Scope, Send

import openapi
from mock_server.clock import Clock, SystemClock
from mock_server.errors import InternalError
from mock_server.responses import error_response
from openapi.cassette import CassetteWriter

__all__ = ["RecordingProxy", "SpecValidator"]

Log = Callable[[str], None]
_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "accept-encoding"}
_DROP_BACK = {"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"}


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class _Operation:
    operation_id: str
    method: str
    pattern: re.Pattern[str]
    responses: Mapping[str, Any]
    pointer: str


class SpecValidator:
    """Which operation a request is, and what in its answer breaks the spec (body schema, declared headers)."""

    def __init__(self, document: Mapping[str, Any] | None = None) -> None:
        self.document = document if document is not None else openapi.load_spec()
        self.operations: list[_Operation] = []
        for path, item in self.document.get("paths", {}).items():
            regex = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")
            for method, op in item.items():
                if isinstance(op, Mapping) and "operationId" in op:
                    pointer = openapi.ref("paths", path, method, "responses")  # schema_validator percent-encodes it
                    self.operations.append(
                        _Operation(op["operationId"], method.upper(), regex, op.get("responses", {}), pointer)
                    )

    def operation(self, method: str, path: str) -> _Operation | None:
        return next((op for op in self.operations if op.method == method and op.pattern.match(path)), None)

    def problems(self, op: _Operation, status: int, headers: Mapping[str, str], body: Any) -> Iterator[str]:
        key = next((k for k in (str(status), f"{str(status)[0]}XX", "default") if k in op.responses), None)
        if key is None:
            yield f"status {status} is not documented"
            return
        node, pointer = op.responses[key], f"{op.pointer}/{key}"
        if "$ref" in node:
            pointer, node = node["$ref"], openapi.resolve(self.document, node)
        for name, header in (node.get("headers") or {}).items():
            if openapi.resolve(self.document, header).get("required") and name.lower() not in headers:
                yield f"header {name} is missing"
        if "application/json" not in (node.get("content") or {}):
            return
        if body is None:
            yield "body is not JSON"
            return
        validator = openapi.schema_validator(f"{pointer}/content/application~1json/schema")
        for error in validator.iter_errors(body):
            where = "/" + "/".join(str(part) for part in error.instance_path)
            yield f"body at {where}: {error.message}"


class RecordingProxy:
    """ASGI app: forward to `target`, record to `writer`, validate with `validator`, log problems to `log`."""

    def __init__(
        self, target: str, writer: CassetteWriter, *, validator: SpecValidator | None = None, log: Log = _stderr,
        timeout: float = 60.0, clock: Clock | None = None,
    ) -> None:  # fmt: skip
        self.target = target.rstrip("/")
        self.writer = writer
        self.validator = validator or SpecValidator()
        self.log = log
        self.timeout = timeout
        self.clock = clock or SystemClock()  # wall time: the poll times of the real service
        self.started = self.clock.now()
        self.tasks: dict[str, tuple[float, str]] = {}  # task id -> (created at, model)
        self._client: httpx2.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self._client = httpx2.AsyncClient(timeout=self.timeout, follow_redirects=False)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self._client is not None:
                        await self._client.aclose()
                    self.writer.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        forwarded = [(k, v) for k, v in headers if k.lower() not in _HOP]
        url = f"{self.target}{path}" + (f"?{query}" if query else "")
        assert self._client is not None
        try:
            response = await self._client.request(method, url, headers=forwarded, content=body)
        except (httpx2.TimeoutException, httpx2.TransportError) as exc:
            problem = f"proxy: {self.target} did not answer {method} {path} ({type(exc).__name__}: {exc})"
            self.log(problem)
            status = 504 if isinstance(exc, httpx2.TimeoutException) else 502
            await error_response(InternalError(problem, status=status))(scope, receive, send)
            return
        self._record(method, path, query, headers, body, response)
        back = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _DROP_BACK]
        await _answer(send, response.status_code, back, response.content)

    def _record(
        self, method: str, path: str, query: str, headers: list[tuple[str, str]], sent: bytes,
        response: httpx2.Response,
    ) -> None:  # fmt: skip
        request_body, answer = _json(sent), _json(response.content)
        op = self.validator.operation(method, path)
        operation = op.operation_id if op else ""
        now = self.clock.now()
        task, name = self._task(operation, path, request_body, answer, response.status_code, now)
        created = self.tasks.get(task or "")
        if op is not None:
            lowered = {k.lower(): v for k, v in response.headers.items()}
            for problem in self.validator.problems(op, response.status_code, lowered, answer):
                self.log(f"proxy: spec violation: {method} {path} -> {response.status_code} ({operation}): {problem}")
        self.writer.write(
            method=method,
            path=path,
            query=query,
            status=response.status_code,
            request_headers=headers,
            request_body=request_body if request_body is not None else (sent.decode("utf-8", "replace") or None),
            response_headers=response.headers.multi_items(),
            response_body=answer if answer is not None else (response.text or None),
            operation=operation,
            name=name,
            task=task,
            at=now - self.started,
            elapsed=None if created is None else now - created[0],
        )

    def _task(
        self, operation: str, path: str, request: Any, answer: Any, status: int, now: float
    ) -> tuple[str | None, str]:
        data = answer.get("data") if isinstance(answer, dict) else None
        task = data.get("task_id") if isinstance(data, dict) else None
        if operation == "createPrediction" and status == 200 and isinstance(task, str):
            model = str(request.get("model")) if isinstance(request, dict) else ""
            self.tasks[task] = (now, model)
            return task, f"create {model}"
        if operation == "getPrediction":
            task = path.rstrip("/").rpartition("/")[2]
            known = self.tasks.get(task)
            return (task, f"poll {known[1]}") if known else (None, "poll")
        return None, operation or f"{path}"


def _json(content: bytes) -> Any:
    import json

    try:
        value = json.loads(content) if content else None
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict | list) else None


async def _answer(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def run(target: str, record: str, *, host: str = "127.0.0.1", port: int = 8000) -> int:
    """`shuyou-mock proxy`: serve the proxy until interrupted; 2 when the address cannot be bound."""
    import socket
    from pathlib import Path

    import uvicorn

    parts = urllib.parse.urlsplit(target)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        _stderr(f"shuyou-mock: --target {target!r} is not an http(s) URL (e.g. https://api.shuyou.ai)")
        return 2
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        _stderr(f"shuyou-mock: cannot bind {host}:{port}: {exc.strerror}")
        return 2
    sock.listen(2048)
    writer = CassetteWriter(Path(record), source=target, tool="shuyou-mock proxy")
    shown = f"[{host}]" if ":" in host else host
    print(f"ShuYou recording proxy listening on http://{shown}:{sock.getsockname()[1]}", flush=True)
    print(f"  forwards to {target}; records to {record}; spec violations are logged here", flush=True)
    config = uvicorn.Config(RecordingProxy(target, writer), log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
    return 0
