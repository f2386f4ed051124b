"""Standard Webhooks signing, through the `standardwebhooks` library (DECISIONS 6).

Rules: pure. The signed content is `"{webhook-id}.{webhook-timestamp}.{body}"`; the header carries one
`v1,<base64 HMAC-SHA256>` per active secret, space-separated, so a receiver that knows any one of them
verifies (secret rotation). A forged signature (chaos) is a real signature made with a wrong key.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from mock_server.webhooks.settings import DEV_SECRET, check_secret

__all__ = ["DEV_SECRET", "Signer", "signed_headers"]


class Signer:
    """Signs payloads with every active secret; `forged=True` signs with a key nobody holds."""

    __slots__ = ("_forger", "_hooks")

    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("Signer needs at least one 'whsec_<base64>' secret")
        self._hooks = tuple(Webhook(check_secret(s)) for s in secrets)
        wrong = hashlib.sha256(b"forged:" + "|".join(secrets).encode()).digest()
        self._forger = Webhook(wrong)

    def signature(self, msg_id: str, timestamp: int, body: bytes, *, forged: bool = False) -> str:
        """The `webhook-signature` header value for one attempt."""
        when = datetime.fromtimestamp(timestamp, tz=UTC)
        data = body.decode("utf-8")
        hooks = (self._forger,) if forged else self._hooks
        return " ".join(hook.sign(msg_id, when, data) for hook in hooks)

    def headers(self, msg_id: str, timestamp: int, body: bytes, *, forged: bool = False) -> dict[str, str]:
        """All headers of one attempt: content type, id, timestamp and signature."""
        return signed_headers(msg_id, timestamp, self.signature(msg_id, timestamp, body, forged=forged))


def signed_headers(msg_id: str, timestamp: int, signature: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "shuyou-mock-webhooks",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def generate_secret(seed_bytes: bytes) -> str:
    """A `whsec_` secret derived from `seed_bytes` (deterministic; use os.urandom(32) for a real one)."""
    return "whsec_" + base64.b64encode(hashlib.sha256(seed_bytes).digest()).decode()
