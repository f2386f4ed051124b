"""Money moves by what was billed: `/v1/credits` read before the lifecycle's creates and after they all ended.

Rule `credits_billed` (DECISIONS 13, so an assumption): total_usage grows by the sum of the final
`usage.cost` of the tasks the run created, and by nothing else (a failed task bills nothing, DECISIONS 3).
It assumes nobody else spends on the same key during the run. Pure: two bodies and the outcomes in, findings out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from contracts.findings import Finding, Kind
from contracts.rules import BY_ID

__all__ = ["RULE", "billed", "check_billing", "total_usage"]

RULE = "credits_billed"


def total_usage(body: Any) -> float | None:
    data = body.get("data") if isinstance(body, Mapping) else None
    value = data.get("total_usage") if isinstance(data, Mapping) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def billed(finals: Sequence[Mapping[str, Any]]) -> float:
    """The sum of the final usage.cost of every task, 0 for a task without usage."""
    total = 0.0
    for final in finals:
        usage = final.get("usage")
        cost = usage.get("cost") if isinstance(usage, Mapping) else None
        total += float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else 0.0
    return total


def check_billing(before: Any, after: Any, finals: Sequence[Mapping[str, Any] | None]) -> list[Finding] | None:
    """Findings of `credits_billed` over the final bodies of the tasks created between the two readings (None
    for a task that never ended), or None when it cannot be judged (a reading failed, a task is still open)."""
    first, last = total_usage(before), total_usage(after)
    created = [final for final in finals if final is not None]
    if first is None or last is None or not finals or len(created) < len(finals):
        return None
    expected, moved = billed(created), last - first
    if math.isclose(moved, expected, rel_tol=1e-6, abs_tol=1e-6):
        return []
    message = (
        f"total_usage moved by {moved:g} over the run, but its {len(created)} task(s) were billed "
        f"{expected:g} (sum of usage.cost) [x-assumption: {BY_ID[RULE].source}]"
    )
    return [Finding(Kind.ASSUMPTION, RULE, message, "getCredits")]
