"""Per-key rate limits: a token bucket per key on the mock clock (off unless configured, DECISIONS 14)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from mock_server.errors import RateLimited
from mock_server.settings import RateLimit

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(self, default: RateLimit | None, per_key: Mapping[str, RateLimit]) -> None:
        self._default = default
        self._per_key = dict(per_key)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)

    @property
    def enabled(self) -> bool:
        return self._default is not None or bool(self._per_key)

    def check(self, key: str, now: float) -> None:
        """Take one token for `key`, or raise RateLimited with the seconds until the next one."""
        limit = self._per_key.get(key, self._default)
        if limit is None:
            return
        rate = limit.requests / limit.per_seconds
        tokens, last = self._buckets.get(key, (float(limit.requests), now))
        tokens = min(float(limit.requests), tokens + max(0.0, now - last) * rate)
        if tokens < 1.0:
            retry = max(1, math.ceil((1.0 - tokens) / rate))
            self._buckets[key] = (tokens, now)
            raise RateLimited(
                f"Rate limit exceeded: key allows {limit.requests} requests per {limit.per_seconds:g} s; "
                f"retry after {retry} s",
                headers={"Retry-After": str(retry)},
            )
        self._buckets[key] = (tokens - 1.0, now)

    def reset(self) -> None:
        self._buckets.clear()
