"""Signed result URLs like the upstream CDN's: `/files/<task>/<name>?e=<unix expiry>&token=<hmac>`.

A URL is valid until `e` on the mock clock; changing any part of it breaks the token (403). An `e` later than
now + `url_ttl` is refused too: the mock never issues one, and the default secret is public, so such a URL can
only be forged (a far-future `e=` would otherwise be a key that never expires).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from mock_server.wire import decimal

__all__ = ["FileSigner"]


class FileSigner:
    def __init__(self, secret: str, ttl: float) -> None:
        self._key = secret.encode()
        self.ttl = ttl
        self._tokens: dict[tuple[str, str, int], str] = {}  # a poll loop re-signs the same URLs

    def token(self, task_id: str, name: str, expiry: int) -> str:
        key = (task_id, name, expiry)
        cached = self._tokens.get(key)
        if cached is not None:
            return cached
        mac = hmac.new(self._key, f"{task_id}/{name}:{expiry}".encode(), hashlib.sha256).digest()
        token = base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")
        if len(self._tokens) >= 4096:
            self._tokens.clear()
        self._tokens[key] = token
        return token

    def path(self, task_id: str, name: str, expiry: int) -> str:
        return f"/files/{task_id}/{name}?e={expiry}&token={self.token(task_id, name, expiry)}"

    def problem(self, task_id: str, name: str, expiry: str | None, token: str | None, now: float) -> str | None:
        """None when the URL is valid, else why it is not."""
        if not expiry or not token:
            return "the file URL needs both e= and token= query parameters"
        when = decimal(expiry)
        if when is None:
            return f"e={expiry[:40]!r} is not a unix timestamp"
        if when > now + self.ttl:
            return f"e={expiry[:40]} is later than any URL the mock issues (now + url_ttl = {int(now + self.ttl)})"
        if not hmac.compare_digest(self.token(task_id, name, when).encode(), token.encode()):
            return "token does not match this URL (tampered or signed with another secret)"
        if when < now:
            return f"the URL expired at {expiry}"
        return None
