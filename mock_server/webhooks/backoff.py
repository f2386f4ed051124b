"""Retry timing: exponential backoff with seeded jitter, and the receiver's `Retry-After`.

Rules: pure; the random source is injected (seeded by the dispatcher) so a run is reproducible.
Wait after failed attempt n (1-based) = min(max, base * factor**(n-1)) * uniform(1 - jitter, 1 + jitter).
A valid `Retry-After` (delta-seconds or HTTP-date) replaces that wait, capped at `retry_after_max`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from mock_server.webhooks.settings import WebhookSettings

__all__ = ["Backoff", "parse_retry_after"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """The retry schedule of one dispatcher."""

    base: float = 1.0
    factor: float = 2.0
    maximum: float = 300.0
    jitter: float = 0.2
    retry_after_max: float = 3600.0

    @classmethod
    def from_settings(cls, settings: WebhookSettings) -> Backoff:
        return cls(
            settings.backoff_base,
            settings.backoff_factor,
            settings.backoff_max,
            settings.jitter,
            settings.retry_after_max,
        )

    def delay(self, attempt: int, rng: random.Random, *, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if attempt < 1:
            raise ValueError(f"attempt={attempt!r}: attempts are numbered from 1")
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_max)
        exponent = min(attempt - 1, 1024)
        try:
            raw = self.base * self.factor**exponent
        except OverflowError:
            raw = self.maximum
        wait = min(self.maximum, raw)
        if self.jitter:
            wait *= rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)
        return max(0.0, wait)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from `now` that a `Retry-After` header asks for; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)
