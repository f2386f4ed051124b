from __future__ import annotations

import dataclasses

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import openapi
from mock_server.errors import InvalidTransition
from mock_server.lifecycle import TERMINAL, TRANSITIONS, Prediction, Status, due_status, settle, transition


def make(outcome: Status = Status.SUCCESS, due: float = 10.0) -> Prediction:
    return Prediction("a" * 32, "k", "m", "image", created_at=0.0, due_at=due, outcome=outcome)


def test_status_values_equal_the_spec_task_status_enum() -> None:
    spec_enum = openapi.load_spec()["components"]["schemas"]["TaskStatus"]["enum"]
    assert [s.value for s in Status] == spec_enum


def test_every_status_has_a_row_and_terminal_rows_are_empty() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert all(not TRANSITIONS[s] for s in TERMINAL)


def test_processing_until_due_then_planned_outcome() -> None:
    p = make(Status.FAILED)
    assert due_status(p, 9.999) is Status.PROCESSING
    assert due_status(p, 10.0) is Status.FAILED


def test_settle_records_the_due_time_not_the_poll_time() -> None:
    settled = settle(make(), 500.0)
    assert settled.status is Status.SUCCESS
    assert settled.finished_at == 10.0


def test_settle_before_due_returns_the_same_object() -> None:
    p = make()
    assert settle(p, 1.0) is p


@pytest.mark.parametrize("start", sorted(TERMINAL), ids=str)
def test_terminal_states_are_absorbing(start: Status) -> None:
    p = transition(make(), start, now=1.0)
    for target in Status:
        with pytest.raises(InvalidTransition, match="is terminal"):
            transition(p, target, now=2.0)
    assert settle(p, 100.0) is p


def test_invalid_transition_message_names_task_and_states() -> None:
    p = transition(make(), Status.SUCCESS, now=1.0)
    with pytest.raises(InvalidTransition, match=f"cannot move prediction {'a' * 32} from success to failed"):
        transition(p, Status.FAILED, now=2.0)


class LifecycleMachine(RuleBasedStateMachine):
    """Status never goes backwards, terminal states are absorbing, a failed task never flips to success."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.p = make(Status.FAILED, due=5.0)
        self.seen_terminal: Status | None = None

    @rule(seconds=st.floats(min_value=0, max_value=20))
    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.p = settle(self.p, self.now)

    @precondition(lambda self: self.p.status is Status.PROCESSING)
    @rule()
    def cancel(self) -> None:
        self.p = transition(self.p, Status.CANCELLED, now=self.now)

    @rule(to=st.sampled_from(list(Status)))
    def illegal_moves_leave_it_unchanged(self, to: Status) -> None:
        before = self.p
        if to in TRANSITIONS[before.status]:
            return
        snapshot = dataclasses.replace(before)  # a separate object with the same fields
        with pytest.raises(InvalidTransition, match=f"from {before.status} to {to}"):
            transition(before, to, now=self.now)
        assert before == snapshot  # not changed in place (the table's objects are frozen, but evolve writes fields)

    @invariant()
    def terminal_is_absorbing(self) -> None:
        if self.seen_terminal is not None:
            assert self.p.status is self.seen_terminal
        elif self.p.terminal:
            self.seen_terminal = self.p.status
        assert self.p.status is not Status.SUCCESS

    @invariant()
    def poll_agrees_with_settle(self) -> None:
        assert due_status(self.p, self.now) is settle(self.p, self.now).status


TestLifecycleMachine = LifecycleMachine.TestCase
