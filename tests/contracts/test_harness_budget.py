from __future__ import annotations

import threading

import pytest
from contract_mocks import Exchange, Rewrite, build_mock, harness, serve

from contracts.budget import Budget
from contracts.serving import Served


class AcceptedCreates:
    """Counts, at the target, the createPrediction calls it accepted (the billable ones)."""

    def __init__(self) -> None:
        self.count = 0
        self.rejected = 0
        self.hints = 0
        self.lock = threading.Lock()

    def __call__(self, ex: Exchange) -> None:
        with self.lock:
            self.hints += "x-contracts-hint" in ex.headers
            if ex.method == "POST" and ex.path == "/v1/predictions":
                self.count += 200 <= ex.status < 300
                self.rejected += 400 <= ex.status < 500


@pytest.mark.parametrize(
    ("limit", "phases"),
    [
        pytest.param(0, ("examples", "lifecycle"), id="0-examples"),
        pytest.param(1, ("stateful", "lifecycle"), id="1-stateful"),
        pytest.param(4, ("examples", "coverage", "fuzzing", "stateful", "lifecycle"), id="4-all-phases"),
        pytest.param(3, ("fuzzing", "stateful"), id="3-two-workers"),
    ],
)
def test_the_target_never_accepts_more_billable_calls_than_the_budget(
    served: list[Served], limit: int, phases: tuple[str, ...]
) -> None:
    counter = AcceptedCreates()
    served.append(serve(Rewrite(build_mock(), on_response=counter)))

    result = harness(served[0].base_url, budget=limit, phases=phases, workers=2 if limit == 3 else 1)

    assert counter.count == result.budget_spent <= limit
    assert counter.count == limit or "lifecycle" not in phases  # the lifecycle spends the budget first
    assert result.budget_refused > 0
    assert counter.hints == 0  # the harness's hint to the gate never reaches the target
    assert not [f for f in result.findings if f.kind.value == "contract"], result.findings


def test_rejected_calls_give_their_slot_back_and_unanswered_ones_keep_it() -> None:
    budget = Budget(2)

    assert budget.try_reserve()
    assert budget.try_reserve()
    assert not budget.try_reserve()
    budget.settle(accepted=False)
    assert budget.try_reserve()
    budget.settle(accepted=True)
    budget.settle(accepted=True)
    assert not budget.try_reserve()
    assert (budget.state().spent, budget.state().released, budget.state().refused) == (2, 1, 2)


def test_concurrent_reservations_never_exceed_the_limit() -> None:
    budget = Budget(7)
    granted: list[bool] = []
    barrier = threading.Barrier(16)

    def worker() -> None:
        barrier.wait()
        for _ in range(50):
            if budget.try_reserve():
                granted.append(True)
                budget.settle(accepted=True)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(granted) == budget.state().spent == 7


def test_negative_cases_still_reach_the_target_when_the_budget_for_valid_creates_is_spent(
    served: list[Served],
) -> None:
    counter = AcceptedCreates()
    served.append(serve(Rewrite(build_mock(), on_response=counter)))

    result = harness(served[0].base_url, budget=1, phases=("fuzzing",), max_examples=40)

    # Valid creates found the budget spent (the one slot is kept for requests that should fail); invalid ones
    # still went through and were rejected. Whatever the target accepted is counted, never more than 1.
    assert counter.count == result.budget_spent <= 1
    assert result.budget_refused > 0
    assert counter.rejected > 5
    assert result.findings == []
