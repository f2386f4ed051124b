"""Which task events fire a webhook, and the bytes that are sent (DECISIONS 6).

Rules: pure. The service reports each terminal event exactly once (`success`, `failed`, `cancelled`)
and, when configured, intermediate ones. A webhook fires for an event listed in `fire_on`, or for any
event when `intermediate` is on, and only when the task has a webhook URL. The payload is the Get
Prediction body at that moment, serialised once so that the signature and every attempt agree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mock_server.webhooks.settings import WebhookSettings

__all__ = ["encode_payload", "fires"]


def fires(event: str, url: str | None, settings: WebhookSettings) -> bool:
    """True when `event` on a task with webhook `url` must be delivered."""
    if not settings.enabled or not url:
        return False
    return settings.intermediate or event in settings.fire_on


def encode_payload(body: Mapping[str, Any]) -> bytes:
    """The request body: compact UTF-8 JSON of the Get Prediction body."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
