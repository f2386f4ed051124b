from __future__ import annotations

import pytest

from mock_server.errors import RateLimited
from mock_server.ratelimit import RateLimiter
from mock_server.settings import RateLimit


def test_off_by_default() -> None:
    limiter = RateLimiter(None, {})
    assert not limiter.enabled
    for _ in range(1000):
        limiter.check("k", 0.0)


def test_per_key_limit_overrides_the_default_and_refills() -> None:
    limiter = RateLimiter(RateLimit(100, 1.0), {"slow": RateLimit(1, 4.0)})
    limiter.check("slow", 0.0)
    with pytest.raises(RateLimited) as info:
        limiter.check("slow", 1.0)
    assert info.value.headers == {"Retry-After": "3"}
    limiter.check("slow", 4.0)
    for _ in range(100):
        limiter.check("fast", 0.0)
