"""The create-time webhook URL check (DECISIONS 7), delegated to the webhooks package's policy."""

from __future__ import annotations

from mock_server.webhooks.policy import WebhookUrlRejected, check_create_url

__all__ = ["webhook_problem"]


def webhook_problem(url: object) -> str | None:
    """None when a task may carry `url`; else the message (naming `webhook`) for a 400."""
    try:
        check_create_url(url)
    except WebhookUrlRejected as exc:
        return str(exc)
    return None
