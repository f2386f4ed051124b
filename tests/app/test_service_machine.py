"""A Hypothesis state machine over the service (create, poll, cancel, clock, timers) on a FakeClock."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mock_server.app import create_app
from mock_server.clock import FakeClock
from mock_server.errors import Conflict
from mock_server.lifecycle import Prediction
from mock_server.note import RequestNote
from mock_server.service import PredictionService
from mock_server.settings import Settings
from mock_server.store import TaskFilter

BODIES = [
    {"model": "gemini-2.5-flash-image", "function": "image", "input": {"prompt": "p", "num_images": 2}},
    {"model": "veo-3.1-lite-generate-preview", "function": "video", "input": {"prompt": "p", "duration": 4}},
    {"model": "qwen3-tts-flash", "function": "audio", "input": {"prompt": "p", "voice": "Cherry"}},
]
TERMINAL = {"success", "failed", "cancelled"}


class ServiceMachine(RuleBasedStateMachine):
    """Invariants: terminal is absorbing, one terminal event per task, output iff success, usage adds up."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(1_800_000_000.0)
        app = create_app(Settings(seed=5, failure_probability=0.3), clock=self.clock)
        self.service: PredictionService = app.state.mock.service
        self.scheduler = app.state.mock.scheduler
        self.events: list[tuple[str, str]] = []
        self.service.subscribe(self.record)
        self.seen: dict[str, str] = {}

    def record(self, p: Prediction, event: str, body: dict[str, Any]) -> None:
        self.events.append((p.task_id, event))
        assert body["data"]["task_status"] == event

    @rule(body=st.sampled_from(BODIES), key=st.sampled_from(["a", "b"]))
    def create(self, body: dict[str, Any], key: str) -> None:
        async def read() -> bytes:
            return json.dumps(body).encode()

        headers = {"authorization": f"Bearer {key}"}
        admission = anyio.run(self.service.admit, "createPrediction", headers, RequestNote(), read)
        p = self.service.create(admission, "http://127.0.0.1")
        self.seen[p.task_id] = "processing"

    @rule(seconds=st.sampled_from([0.5, 4.0, 10.0, 60.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def run_timers(self) -> None:
        anyio.run(self.scheduler.run_due)

    @precondition(lambda self: bool(self.seen))
    @rule(data=st.data())
    def poll(self, data: st.DataObject) -> None:
        task_id = data.draw(st.sampled_from(sorted(self.seen)))
        body = self.service.body(self.service.get(None, task_id))
        status = body["data"]["task_status"]
        if self.seen[task_id] in TERMINAL:
            assert status == self.seen[task_id]
        self.seen[task_id] = status
        assert ("output" in body["data"]) == (status == "success")
        assert ("usage" in body) == (status == "success")

    @precondition(lambda self: bool(self.seen))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        task_id = data.draw(st.sampled_from(sorted(self.seen)))
        try:
            anyio.run(self.service.cancel, task_id)
        except Conflict:
            assert self.service.get(None, task_id).terminal
        else:
            self.seen[task_id] = "cancelled"

    @invariant()
    def one_terminal_event_per_task(self) -> None:
        tasks = [task for task, _ in self.events]
        assert len(tasks) == len(set(tasks))

    @invariant()
    def usage_is_the_sum_of_successes(self) -> None:
        for key in ("a", "b"):
            expected = sum(
                p.usage.cost
                for p in self.service.store.find(TaskFilter(key=key, status="success"), limit=10_000)
                if p.usage
            )
            assert self.service.store.usage(key) == pytest.approx(expected)

    def teardown(self) -> None:
        self.clock.advance(3600)
        anyio.run(self.scheduler.run_due)
        assert sorted(task for task, _ in self.events) == sorted(self.seen)


TestServiceMachine = ServiceMachine.TestCase
