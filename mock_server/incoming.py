"""The incoming request as handlers read it: headers decoded once, and the body read up to a limit."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import ClientDisconnect, Request

from mock_server import wire
from mock_server.errors import PayloadTooLarge
from mock_server.note import note

__all__ = ["read_body", "request_headers"]


_DECODED: dict[tuple[tuple[bytes, bytes], ...], Mapping[str, str]] = {}
_DECODED_KEPT = 256


def request_headers(request: Request) -> Mapping[str, str]:
    """Request headers as one plain mapping (lower-case names), built once per request; read-only.

    A load test sends the same header block again and again: the decoded mapping is kept per distinct block
    (up to _DECODED_KEPT, then started afresh), so a repeat costs one hash of the block instead of two decodes
    per header (the dict comprehension was ~70 of ~1,900 bytecodes per create, 2026-12-07).
    """
    record = note(request.scope)
    found = record.headers
    if found is None:
        raw = request.scope["headers"]
        try:
            block = tuple(raw)
            found = _DECODED.get(block)
        except TypeError:  # a server that gives each header as a list: unhashable, decoded every time
            block, found = None, None
        if found is None:
            found = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}
            if block is not None:
                if len(_DECODED) >= _DECODED_KEPT:
                    _DECODED.clear()
                _DECODED[block] = found
        record.headers = found
    return found


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or PayloadTooLarge (413) as soon as the declared length or the bytes read pass `limit`."""
    length = request_headers(request).get("content-length")
    declared = wire.decimal(length)
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"body: Content-Length {length} is over the limit of {limit} bytes")
    message = await request.receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False) and message["type"] == "http.request" and len(body) <= limit:
        note(request.scope).body = body  # the whole body in one message: how uvicorn hands over what it has read
        return body
    chunks: list[bytes] = []
    size = 0
    while True:  # read straight from ASGI receive: cheaper than Request.stream() on the hot path
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if size > limit:
            note(request.scope).body = b"".join(chunks)  # what the inspector shows of it (cut at its own limit)
            raise PayloadTooLarge(f"body: over the limit of {limit} bytes")
        if not message.get("more_body", False):
            body = note(request.scope).body = b"".join(chunks)
            return body
        message = await request.receive()
