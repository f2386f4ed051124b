"""The webhook half of the example client: verify, de-duplicate and record ShuYou task webhooks.

Your web framework's `/webhook` endpoint hands the raw body and the headers to `WebhookInbox.handle()` and
answers 2xx when it returns (also for a duplicate, so the sender stops retrying) and 401 on `InvalidWebhook`.
Signatures follow Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) and are checked
with the `standardwebhooks` library; ShuYou documents no signing, so this follows the mock's convention
(the project's DECISIONS 6). The same `webhook-id` can arrive more than once (retries, duplicates): only the
first counts. A task's terminal state is final: a late or out-of-order `processing` body never replaces it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from shuyou_client import Prediction
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

__all__ = ["InvalidWebhook", "WebhookInbox"]


class InvalidWebhook(Exception):
    """The delivery's signature does not verify with any secret: answer 401 and ignore the body."""


class WebhookInbox:
    """Thread-safe record of the predictions that webhooks reported, one per task, first delivery wins."""

    def __init__(self, secrets: str | Sequence[str]) -> None:
        self._verifiers = [Webhook(s) for s in ([secrets] if isinstance(secrets, str) else secrets)]
        self._seen: set[str] = set()
        self._results: dict[str, Prediction] = {}
        self._changed = threading.Condition()
        self.duplicates = 0

    def handle(self, body: bytes, headers: Mapping[str, str]) -> Prediction | None:
        """Verify and record one delivery; returns the prediction, or None for a duplicate or a stale update."""
        payload = self._verify(body, headers)
        webhook_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
        prediction = Prediction.from_body(payload)
        with self._changed:
            if webhook_id in self._seen:
                self.duplicates += 1
                return None
            self._seen.add(webhook_id)
            known = self._results.get(prediction.task_id)
            if known is not None and known.done:
                return None  # terminal states never change
            self._results[prediction.task_id] = prediction
            self._changed.notify_all()
        return prediction

    def result(self, task_id: str) -> Prediction | None:
        with self._changed:
            return self._results.get(task_id)

    def wait(self, task_id: str, timeout: float) -> Prediction | None:
        """Block (real time) until a webhook said `task_id` is done; None on timeout."""
        with self._changed:
            self._changed.wait_for(lambda: self._done(task_id), timeout=timeout)
            return self._results.get(task_id) if self._done(task_id) else None

    def _done(self, task_id: str) -> bool:
        known = self._results.get(task_id)
        return known is not None and known.done

    def _verify(self, body: bytes, headers: Mapping[str, str]) -> dict[str, object]:
        plain = {k.lower(): v for k, v in headers.items()}
        reasons = []
        for verifier in self._verifiers:
            try:
                payload: dict[str, object] = verifier.verify(body, plain)
            except (WebhookVerificationError, ValueError) as exc:
                reasons.append(str(exc))
            else:
                return payload
        raise InvalidWebhook("; ".join(reasons) or "no secret configured")
