from __future__ import annotations

import threading
from typing import Any

import pytest
from contract_mocks import SECRET, Exchange, Rewrite, build_mock, harness, serve

from contracts.budget import Budget
from contracts.serving import Served
from mock_server import Settings, create_app


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


class NotTheMock:
    """The mock with its control surface hidden (`/_mock/*` answers 404), so the harness treats it as the real API."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/_mock"):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


def test_against_a_real_looking_target_the_same_rules_run_within_the_exact_budget(served: list[Served]) -> None:
    counter = AcceptedCreates()
    # Instant tasks on the real clock: the harness cannot advance it, so it polls as against the real API (~3 s).
    app = create_app(Settings(seed=7, time_scale=0.0, webhook_secret=SECRET))
    served.append(serve(NotTheMock(Rewrite(app, on_response=counter))))

    result = harness(served[0].base_url, budget=3, phases=("lifecycle",))

    assert not result.is_mock
    assert counter.count == result.budget_spent == 3  # one create per function, and not one more
    assert result.findings == []
    ran = {row["rule"]: row for row in result.rules_report()}
    # Downloads and credit reads are free: every result file and the billing were checked on the 3 creates.
    assert ran["result_media"]["operations"]["getPrediction"]["run"] >= 3
    assert ran["credits_billed"]["status"] == ran["unknown_task"]["status"] == ran["webhook_signature"]["status"]
    assert ran["credits_billed"]["status"] == "ran"
    assert ran["tenant_isolation"]["status"] == "skipped"
    assert "--other-api-key" in ran["tenant_isolation"]["reason"]
