"""Lifecycle: create a task per sampled model, poll each until terminal (checking every poll), then once more.

Against our mock the clock is advanced (`POST /_mock/clock/advance`) instead of waiting; against anything else
the poller backs off (1, 2, 4, 8, 15 s ...) up to `timeout`.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2

import openapi
from contracts.checks import Exchange, check_exchange, count_rules
from contracts.findings import Finding, FindingSink, Kind
from contracts.gate import GATE_HEADER
from contracts.observer import lower_headers, parse_json
from contracts.spec import ContractSpec
from contracts.target import advance_clock
from contracts.tasks import TaskBook

__all__ = ["MOCK_OUTCOME_HEADER", "Lifecycle", "Progress", "TaskOutcome", "example_body", "sample_models"]

Progress = Callable[[str], None]
MOCK_OUTCOME_HEADER = "X-Mock-Outcome"  # the mock's per-request outcome control (README of the mock)


@dataclass(slots=True)
class TaskOutcome:
    model: str
    function: str
    task_id: str | None = None
    statuses: list[str] = field(default_factory=list)
    final: dict[str, Any] | None = None
    note: str = ""
    request: dict[str, Any] | None = None  # the create body sent


def sample_models(spec: ContractSpec, wanted: list[str] | None, seed: int) -> list[str]:
    """`wanted` as given (unknown names are an error), else one seeded pick per function."""
    if wanted:
        unknown = [model for model in wanted if model not in spec.models]
        if unknown:
            raise ValueError(f"unknown model(s) {unknown}; the spec documents {sorted(spec.models)}")
        return list(wanted)
    rng = random.Random(seed)
    by_function: dict[str, list[str]] = {}
    for model, function in spec.models.items():
        by_function.setdefault(function, []).append(model)
    return [rng.choice(models) for _, models in sorted(by_function.items())]


def example_body(spec: ContractSpec, model: str) -> dict[str, Any] | None:
    """The first documented example request for `model` (the spec's named examples)."""
    for value in openapi.request_examples(spec.document).values():
        if isinstance(value, dict) and value.get("model") == model:
            return dict(value)
    return None


@dataclass(slots=True)
class Lifecycle:
    client: httpx2.Client
    spec: ContractSpec
    book: TaskBook
    sink: FindingSink
    is_mock: bool
    timeout: float = 300.0
    webhook_url: str | None = None
    other_client: httpx2.Client | None = None
    progress: Progress = lambda _: None
    sleep: Callable[[float], None] = time.sleep
    mock_token: str | None = None  # sent to /_mock (target.control_headers)

    def run(self, models: list[str]) -> list[TaskOutcome]:
        self._unknown_task()
        self._without_key()
        credits_before = self._credits()
        outcomes = [self._create(model) for model in models]
        if self.is_mock and models:
            # Our mock can be asked for a failed task, so the failed-task shape, stickiness and webhook are checked too.
            outcomes.append(self._create(models[0], headers={MOCK_OUTCOME_HEADER: "failed"}))
        pending = [outcome for outcome in outcomes if outcome.task_id]
        waited, step = 0.0, 1.0 if not self.is_mock else 2.0
        while pending and waited < self.timeout:
            step = min(step, self.timeout - waited)
            self._wait(step)
            waited += step
            step = min(step * 2, 15.0) if not self.is_mock else step * 2
            pending = [outcome for outcome in pending if not self._poll(outcome)]
        for outcome in outcomes:
            if outcome.task_id:
                self.sink.ran("lifecycle_timeout", failed=outcome in pending, operation="getPrediction")
        for outcome in pending:
            outcome.note = f"not terminal within the poll timeout of {self.timeout:g} s (last: {outcome.statuses[-1:]})"
            self.sink.add(
                [Finding(Kind.ASSUMPTION, "lifecycle_timeout", outcome.note, "getPrediction", outcome.task_id)]
            )
        done = [outcome for outcome in outcomes if outcome.final is not None]
        if done:  # terminal states never change: look once more, later
            self._wait(600.0 if self.is_mock else 2.0)
            for outcome in done:
                self._poll(outcome)
                self._cross_key(outcome)
        self._billing(credits_before, outcomes)
        return outcomes

    def _credits(self) -> Any:
        response = self.client.get(self.spec.operations["getCredits"].path)
        if response.headers.get(GATE_HEADER):
            return None
        return self._check("getCredits", response, None, None)

    def _billing(self, before: Any, outcomes: list[TaskOutcome]) -> None:
        from contracts.credits import check_billing

        finals = [outcome.final for outcome in outcomes if outcome.task_id]
        findings = check_billing(before, self._credits(), finals)
        if findings is not None:
            self.sink.ran("credits_billed", failed=bool(findings), operation="getCredits")
            self.sink.add(findings)

    def _unknown_task(self) -> None:
        """GET a task id nobody created (random, in the documented format): 404, in the error envelope."""
        task_id = secrets.token_hex(16)
        path = self.spec.operations["getPrediction"].path.replace("{prediction_id}", task_id)
        response = self.client.get(path)
        if response.headers.get(GATE_HEADER):
            return
        self._check("getPrediction", response, None, task_id)
        ok = response.status_code == 404
        self.sink.ran("unknown_task", failed=not ok, operation="getPrediction")
        if not ok:
            message = f"GET of a task nobody created ({task_id}) answered {response.status_code}, not 404"
            self.sink.add(
                [Finding(Kind.CONTRACT, "unknown_task", message, "getPrediction", task_id, response.status_code)]
            )

    def _without_key(self) -> None:
        """The free operations without an Authorization header: refused with 401 or 403 (NOTES §6, DECISIONS 9)."""
        paths = {
            "getCredits": self.spec.operations["getCredits"].path,
            "getPrediction": self.spec.operations["getPrediction"].path.replace("{prediction_id}", "0" * 32),
        }
        for operation, path in paths.items():
            request = self.client.build_request("GET", path)
            del request.headers["authorization"]
            response = self.client.send(request)
            if response.headers.get(GATE_HEADER):
                continue
            self._check(operation, response, None, None)
            ok = response.status_code in (401, 403)
            self.sink.ran("auth_required", failed=not ok, operation=operation)
            if not ok:
                message = f"GET {path} without a key answered {response.status_code}, not 401 or 403"
                self.sink.add([Finding(Kind.CONTRACT, "auth_required", message, operation, None, response.status_code)])

    def _wait(self, seconds: float) -> None:
        if not (self.is_mock and advance_clock(self.client, seconds, self.mock_token)):
            self.sleep(seconds)

    def _check(self, operation: str, response: httpx2.Response, request_body: Any, task_id: str | None) -> Any:
        body = parse_json(response.content)
        exchange = Exchange(
            operation, response.status_code, lower_headers(response.headers), body, request_body, task_id
        )
        findings = check_exchange(self.spec, exchange, self.book)
        count_rules(self.sink, exchange, findings)
        self.sink.add(findings)
        return body

    def _create(self, model: str, headers: dict[str, str] | None = None) -> TaskOutcome:
        outcome = TaskOutcome(model, self.spec.models[model])
        body = example_body(self.spec, model)
        if body is None:
            outcome.note = "no documented example request for this model"
            return outcome
        body.pop("webhook", None)
        if self.webhook_url:
            body["webhook"] = self.webhook_url
        outcome.request = body
        response = self.client.post(self.spec.operations["createPrediction"].path, json=body, headers=headers)
        if response.headers.get(GATE_HEADER):
            outcome.note = f"not created: {response.headers[GATE_HEADER]} ({response.text})"
            self.progress(f"  lifecycle {model}: {outcome.note}")
            return outcome
        answer = self._check("createPrediction", response, body, None)
        data = answer.get("data") if isinstance(answer, dict) else None
        created = response.status_code == 200 and isinstance(data, dict) and isinstance(data.get("task_id"), str)
        self.sink.ran("lifecycle_create", failed=response.status_code != 200, operation="createPrediction")
        if created and isinstance(data, dict):
            outcome.task_id = data["task_id"]
            self.book.created(outcome.task_id, model=model, function=outcome.function)
            self.progress(f"  lifecycle {model} ({outcome.function}): created {outcome.task_id}")
        elif response.status_code == 200:
            outcome.note = "create answered 200 without a task id"  # the envelope rule's finding
        else:
            outcome.note = f"create answered {response.status_code}"
            self.sink.add(
                [
                    Finding(
                        Kind.CONTRACT,
                        "lifecycle_create",
                        f"{model}: documented example request answered {response.status_code}: {response.text[:200]}",
                        "createPrediction",
                        status_code=response.status_code,
                    )
                ]
            )
        return outcome

    def _poll(self, outcome: TaskOutcome) -> bool:
        """GET the task and check it; True once it is terminal."""
        path = self.spec.operations["getPrediction"].path.replace("{prediction_id}", outcome.task_id or "")
        response = self.client.get(path)
        if response.headers.get(GATE_HEADER):
            return False
        body = self._check("getPrediction", response, None, outcome.task_id)
        data = body.get("data") if isinstance(body, dict) else None
        status = data.get("task_status") if isinstance(data, dict) else None
        if not isinstance(status, str):
            return False
        outcome.statuses.append(status)
        if status in self.spec.terminal:
            if outcome.final is None:
                self.progress(f"  lifecycle {outcome.model}: {status} after {len(outcome.statuses)} poll(s)")
            outcome.final = body
            return True
        return False

    def _cross_key(self, outcome: TaskOutcome) -> None:
        if self.other_client is None or outcome.task_id is None:
            return
        path = self.spec.operations["getPrediction"].path.replace("{prediction_id}", outcome.task_id)
        response = self.other_client.get(path)
        body = parse_json(response.content)
        exchange = Exchange("getPrediction", response.status_code, lower_headers(response.headers), body, None, None)
        findings = check_exchange(self.spec, exchange)  # no TaskBook: another key's view is not the task's history
        count_rules(self.sink, exchange, findings)
        self.sink.add(findings)
        self.sink.ran("tenant_isolation", failed=response.status_code < 300, operation="getPrediction")
        if response.status_code < 300:
            self.sink.add(
                [
                    Finding(
                        Kind.CONTRACT,
                        "tenant_isolation",
                        f"task {outcome.task_id} made with one key "
                        f"is visible ({response.status_code}) with another key",
                        "getPrediction",
                        outcome.task_id,
                        response.status_code,
                    )
                ]
            )
