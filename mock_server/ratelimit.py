"""Per-key rate limits: a token bucket per key on the mock clock (off unless configured, DECISIONS 14).

Rules: the bucket arithmetic is `refill()`; where the buckets live is a `Buckets` seam. By default they
are this process's dicts; on a store that several processes share (Redis) the store's `take_token` keeps
them, atomically, so a key's limit holds across all processes and hosts, not per process.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, runtime_checkable

from mock_server.errors import RateLimited
from mock_server.settings import RateLimit

__all__ = ["AsyncTake", "Buckets", "LocalBuckets", "RateLimiter", "refill", "shared_buckets"]

AsyncTake = Callable[[str, float, float, float], Awaitable[float]]  # `Buckets.take_token`, awaited


def refill(tokens: float, last: float, capacity: float, rate: float, now: float) -> float:
    """The tokens in a bucket last left with `tokens` at `last`, refilled at `rate` per s up to `capacity`."""
    return min(capacity, tokens + max(0.0, now - last) * rate)


@runtime_checkable
class Buckets(Protocol):
    def take_token(self, key: str, capacity: float, rate: float, now: float) -> float:
        """Refill `key`'s bucket to `now`, take one token if there is one; the tokens there were before taking."""
        ...


def shared_buckets(store: object) -> Buckets | None:
    """The store's buckets when it keeps them for several processes (Redis), else None (this process's)."""
    return store if isinstance(store, Buckets) and getattr(store, "multiprocess", False) else None


class LocalBuckets:
    """The buckets of one process."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)

    def take_token(self, key: str, capacity: float, rate: float, now: float) -> float:
        tokens, last = self._buckets.get(key, (capacity, now))
        tokens = refill(tokens, last, capacity, rate, now)
        self._buckets[key] = (tokens - 1.0 if tokens >= 1.0 else tokens, now)
        return tokens

    def clear(self) -> None:
        self._buckets.clear()


class RateLimiter:
    def __init__(
        self, default: RateLimit | None, per_key: Mapping[str, RateLimit], buckets: Buckets | None = None
    ) -> None:
        self._default = default
        self._per_key = dict(per_key)
        self._local = LocalBuckets()
        self._buckets: Buckets = buckets if buckets is not None else self._local
        self.enabled = default is not None or bool(self._per_key)  # read per request: an attribute, not a property

    def check(self, key: str, now: float) -> None:
        """Take one token for `key`, or raise RateLimited with the seconds until the next one."""
        limit = self._per_key.get(key, self._default)
        if limit is None:
            return
        rate = limit.requests / limit.per_seconds
        self._verdict(limit, rate, self._buckets.take_token(key, float(limit.requests), rate, now))

    async def check_async(self, key: str, now: float, take: AsyncTake) -> None:
        """`check` with the shared buckets' `take` awaited (a store whose round trips requests share)."""
        limit = self._per_key.get(key, self._default)
        if limit is None:
            return
        rate = limit.requests / limit.per_seconds
        self._verdict(limit, rate, await take(key, float(limit.requests), rate, now))

    @staticmethod
    def _verdict(limit: RateLimit, rate: float, tokens: float) -> None:
        if tokens < 1.0:
            retry = max(1, math.ceil((1.0 - tokens) / rate))
            raise RateLimited(
                f"Rate limit exceeded: key allows {limit.requests} requests per {limit.per_seconds:g} s; "
                f"retry after {retry} s",
                headers={"Retry-After": str(retry)},
            )

    def reset(self) -> None:
        self._local.clear()  # shared buckets live in the store, which its own reset clears
