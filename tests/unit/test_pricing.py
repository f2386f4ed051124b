from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from mock_server.pricing import units_for, usage_for
from mock_server.settings import Price


def test_the_documented_example() -> None:
    usage = usage_for(Price(0.039, "image"), 1, 0.75)
    assert (usage.upstream_cost, usage.cost, usage.discount) == (0.039, 0.02925, 0.00975)


@pytest.mark.parametrize(("per", "units"), [("image", 3.0), ("second", 8.0), ("1k_chars", 2.5), ("task", 1.0)])
def test_units(per: str, units: float) -> None:
    assert units_for(Price(1, per), images=3, seconds=8, prompt_chars=2500) == units  # type: ignore[arg-type]


@given(st.floats(0, 10), st.floats(0, 100), st.floats(0.01, 1))
def test_identity_holds(amount: float, units: float, percent: float) -> None:
    u = usage_for(Price(amount, "task"), units, percent)
    assert u.upstream_cost == pytest.approx(u.cost + u.discount, abs=1e-9)
    assert u.cost == pytest.approx(u.upstream_cost * percent, abs=1e-9)
