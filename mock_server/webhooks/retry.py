"""The retry decision: what one finished attempt means for its delivery, as a pure state machine.

Rules:
- A 2xx answer makes the delivery `delivered` (no next attempt). When the delivery carries `duplicate`
  chaos and has not been duplicated yet, the step asks for one duplicate send (same `webhook-id`).
- A `410 Gone` answer makes it `gone` when `settings.stop_on_gone` is on: the receiver said the endpoint
  no longer exists, so retrying would only repeat that. With the setting off, 410 is a failure like any other.
- Any other answer, a timeout or a refused connection is a failure. After `max_attempts` attempts in the
  current round (a redeliver starts a new round) the delivery is `exhausted`.
- Otherwise it is retried at `now + wait`: the receiver's `Retry-After` when readable (capped at
  `retry_after_max`), else exponential backoff with seeded jitter (`backoff.py`).
- `next_step()` is the only code that decides this; it never changes its inputs (frozen records plus
  `replace()`), does no I/O and reads no clock: `now` (mock clock) and `stamp_now` (the clock an HTTP-date
  `Retry-After` is measured against) are passed in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from mock_server.webhooks.backoff import Backoff, parse_retry_after
from mock_server.webhooks.journal import Attempt, Delivery, DeliveryStatus
from mock_server.webhooks.settings import WebhookSettings

__all__ = ["GONE_STATUS", "Delivered", "Exhausted", "Gone", "Outcome", "RetryAt", "Step", "next_step"]

GONE_STATUS = 410


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came back with: its journal record and the receiver's `Retry-After`, if any."""

    attempt: Attempt
    retry_after: str | None = None


@dataclass(frozen=True, slots=True)
class Delivered:
    """Acknowledged; `duplicate` asks the shell for one more send of the same message (chaos)."""

    delivery: Delivery
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class RetryAt:
    """Failed; the next attempt is due at `when` (mock clock)."""

    delivery: Delivery
    when: float


@dataclass(frozen=True, slots=True)
class Exhausted:
    """Failed, and the round's attempt budget is spent."""

    delivery: Delivery


@dataclass(frozen=True, slots=True)
class Gone:
    """The receiver answered 410 Gone; no further attempt."""

    delivery: Delivery


Step = Delivered | RetryAt | Exhausted | Gone


def next_step(
    delivery: Delivery,
    outcome: Outcome,
    *,
    settings: WebhookSettings,
    backoff: Backoff,
    rng: random.Random,
    now: float,
    stamp_now: float | None = None,
) -> Step:
    """The delivery after `outcome` (its attempt appended) and what happens next."""
    attempt = outcome.attempt
    if attempt.ok:
        done = delivery.with_attempt(attempt, status=DeliveryStatus.DELIVERED, next_attempt_at=None)
        wants_duplicate = "duplicate" in delivery.chaos and not any(a.duplicate for a in delivery.attempts)
        return Delivered(done, duplicate=wants_duplicate)
    if attempt.status_code == GONE_STATUS and settings.stop_on_gone:
        return Gone(delivery.with_attempt(attempt, status=DeliveryStatus.GONE, next_attempt_at=None))
    used = attempt.number - delivery.round_start
    if used >= settings.max_attempts:
        return Exhausted(delivery.with_attempt(attempt, status=DeliveryStatus.EXHAUSTED, next_attempt_at=None))
    asked = parse_retry_after(outcome.retry_after, now if stamp_now is None else stamp_now)
    when = now + backoff.delay(used, rng, retry_after=asked)
    return RetryAt(delivery.with_attempt(attempt, next_attempt_at=when), when)
