"""Starlette responses for the mock: JSON bytes from `wire`, and the one error renderer (STYLE 10)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from mock_server import wire
from mock_server.errors import ApiError, MethodNotAllowed, NotFound
from mock_server.note import note

__all__ = ["api_error_handler", "error_response", "http_exception_handler", "json_response"]


class JsonResponse(Response):
    """JSON bytes from `wire.dumps`, with its two headers built directly (this is on every hot path)."""

    media_type = "application/json"

    def __init__(self, content: bytes, status_code: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self.status_code = status_code
        self.body = content
        self.background = None
        self.raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
        if headers:
            self.raw_headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def json_response(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return JsonResponse(wire.dumps(obj), status, headers)


def error_response(exc: ApiError) -> Response:
    headers = exc.headers
    if exc.status == 429 and "Retry-After" not in headers:
        # The spec pins Retry-After on every 429 (DECISIONS 14), whatever raised it (a rate limit, a rule, a header).
        headers = {**headers, "Retry-After": "1"}
    return json_response(wire.render_error(exc), exc.status, headers or None)


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    note(request.scope).error(exc.type, exc.message)
    return error_response(exc)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Router 404/405 (and any HTTPException) in the envelope."""
    assert isinstance(exc, HTTPException)
    method, path = request.method, request.url.path
    if exc.status_code == 404:
        return error_response(NotFound(f"path: no route {method} {path}; see /openapi.json and /_mock/openapi.json"))
    if exc.status_code == 405:
        allow = (exc.headers or {}).get("Allow", "")
        return error_response(
            MethodNotAllowed(f"method: {method} is not allowed on {path}; allowed: {allow}", headers={"Allow": allow})
        )
    return error_response(ApiError(str(exc.detail), status=exc.status_code, type="http_error", headers=exc.headers))
