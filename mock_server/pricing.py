"""Usage arithmetic (DECISIONS 5): cost = upstream_cost * discount_percent, discount = upstream_cost - cost."""

from __future__ import annotations

import functools

from mock_server.lifecycle import Usage
from mock_server.settings import Price

__all__ = ["units_for", "usage_for"]


def units_for(price: Price, *, images: int, seconds: float, prompt_chars: int) -> float:
    """How many of `price.per` one task consumes."""
    if price.per == "image":
        return float(images)
    if price.per == "second":
        return float(seconds)
    if price.per == "1k_chars":
        return prompt_chars / 1000.0
    return 1.0


@functools.lru_cache(maxsize=4096)
def usage_for(price: Price, units: float, discount_percent: float) -> Usage:
    """Rounded to 10 decimals; `discount` is computed from the rounded figures so the identity holds."""
    upstream = round(price.amount * units, 10)
    cost = round(upstream * discount_percent, 10)
    discount = round(upstream - cost, 10)
    return Usage(upstream_cost=upstream, discount=discount, discount_percent=discount_percent, cost=cost)
