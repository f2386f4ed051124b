"""What one request leaves for its journal entry: the `RequestNote` the middleware opens and the rest fills.

The one channel between the middleware (which journals the request), the handlers and the service (the key,
the task id), the error handlers (the error) and the inspector (the request id). It lives in the ASGI scope's
`state` under one key, so a mounted app or a middleware further in reaches the same record.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RequestNote", "note", "open_note"]

_KEY = "shuyou_mock.note"


@dataclass(slots=True)
class RequestNote:
    """Filled while the request runs, so not frozen: each field is written once, by the layer that knows it."""

    request_id: str = ""
    key: str | None = None
    task_id: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    headers: Mapping[str, str] | None = None  # the request headers decoded once (`incoming.request_headers`)
    body: bytes = b""  # the request body as a handler read it (`incoming.read_body`), for the inspector

    def error(self, error_type: str, message: str) -> None:
        self.error_type, self.error_message = error_type, message


def open_note(scope: MutableMapping[str, Any], request_id: str) -> RequestNote:
    """Start this request's note (the middleware, first thing)."""
    found = scope.setdefault("state", {})[_KEY] = RequestNote(request_id)
    return found


def note(scope: MutableMapping[str, Any]) -> RequestNote:
    """This request's note (a fresh one for a scope the middleware did not open, e.g. a bare route test)."""
    try:  # the hot path: two lookups, no call (read about 7 times per create)
        found: RequestNote = scope["state"][_KEY]
    except KeyError:
        found = scope.setdefault("state", {}).setdefault(_KEY, RequestNote())
    return found
