"""`shuyou-contracts record`: a budgeted plan against a target, every exchange written to a cassette.

The plan: one Get Credits, one Get Prediction of an id nobody created (the error shape), then the lifecycle
creates (the documented example request of one model per function, or `--models`), each polled until terminal
on the harness's back-off (1, 2, 4, 8, 15, 15 ... s; against our mock the clock is advanced instead), and each
result file fetched once. Billable calls go through the same `Gate` and `Budget` as `run`, with the same
default limits (`runner.resolve_budget`), so a recording never spends more than `run` would.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2

from contracts.budget import Budget
from contracts.gate import GATE_HEADER, HINT_HEADER, HINT_LIFECYCLE, Gate, Route
from contracts.observer import parse_json
from contracts.polling import example_body, sample_models
from contracts.runner import Options, Progress, resolve_budget
from contracts.serving import serve_in_thread
from contracts.spec import ContractSpec, load
from contracts.target import advance_clock, probe
from openapi.cassette import CassetteWriter, FileRecord, Redactor

__all__ = ["UNKNOWN_TASK_ID", "RecordOptions", "RecordResult", "Timing", "plan_text", "record"]

UNKNOWN_TASK_ID = "0" * 32  # a well-formed id no target has created: its answer is the not-found shape
FIRST_WAIT, MAX_WAIT = 1.0, 15.0


@dataclass(frozen=True, slots=True)
class RecordOptions:
    base_url: str
    api_key: str
    out: Path
    budget: int | None = None
    dry_run: bool = False
    models: tuple[str, ...] = ()
    seed: int | None = None
    with_files: bool = False
    timeout: float = 300.0
    request_timeout: float = 30.0
    mock_token: str | None = None  # our mock's admin token, for its /_mock surface off loopback


@dataclass(frozen=True, slots=True)
class Timing:
    """Where the recorder reads and spends time; tests hand in their stand-in's clock."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass(slots=True)
class RecordResult:
    out: Path
    exchanges: int = 0
    budget_limit: int | None = None
    spent: int = 0
    refused: int = 0
    tasks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        limit = "unlimited" if self.budget_limit is None else str(self.budget_limit)
        lines = [f"Recorded {self.exchanges} exchange(s) to {self.out}"]
        for task in self.tasks:
            trail = " -> ".join(task["statuses"]) or "-"
            lines.append(f"  {task['model']} ({task['function']}): {trail} after {task['elapsed']:.1f} s")
        lines.append(f"Budget: {self.spent} billable call(s) accepted of {limit}; {self.refused} refused")
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines)


def plan_text(options: RecordOptions, models: list[str]) -> str:
    budget = options.budget if options.budget is not None else "5 (unlimited if the target is our mock)"
    return "\n".join(
        [
            f"Record plan for {options.base_url} (dry run: nothing is sent)",
            "  1 getCredits, 1 getPrediction of an unknown id (the not-found shape)",
            f"  {len(models)} createPrediction call(s), the documented example of: {', '.join(models)}",
            f"  each polled until terminal (waits {FIRST_WAIT:g}, 2, 4, 8, {MAX_WAIT:g} s ..., at most "
            f"{options.timeout:g} s), then each result file fetched once"
            + (" with its bytes" if options.with_files else " (type and size)"),
            f"  billable calls at most: {budget} (--budget); cassette: {options.out}",
        ]
    )


@dataclass(slots=True)
class _Task:
    model: str
    function: str
    task_id: str
    created: float
    statuses: list[str] = field(default_factory=list)
    final: Any = None
    elapsed: float = 0.0


class _Recorder:
    def __init__(
        self, writer: CassetteWriter, spec: ContractSpec, timing: Timing, is_mock: bool, mock_token: str | None = None
    ) -> None:
        self.writer, self.spec, self.timing, self.is_mock = writer, spec, timing, is_mock
        self.mock_token = mock_token
        self.started = timing.now()
        self.advanced = 0.0  # seconds the mock's clock was moved on instead of waiting

    def clock(self) -> float:
        return self.timing.now() - self.started + self.advanced

    def wait(self, client: httpx2.Client, seconds: float) -> None:
        if self.is_mock and advance_clock(client, seconds, self.mock_token):
            self.advanced += seconds
        else:
            self.timing.sleep(seconds)

    def send(
        self, client: httpx2.Client, method: str, path: str, *, operation: str, name: str, task: _Task | None = None,
        json: Any = None, headers: dict[str, str] | None = None,
    ) -> httpx2.Response:  # fmt: skip
        response = client.request(method, path, json=json, headers=headers)
        if response.headers.get(GATE_HEADER):
            return response  # the harness's own answer (budget spent): not an exchange with the target
        now = self.clock()
        body = parse_json(response.content)
        sent = [(k, v) for k, v in response.request.headers.multi_items() if k.lower() != HINT_HEADER]
        task_id = task.task_id if task else _created_id(operation, response.status_code, body)
        self.writer.write(
            method=method,
            path=path,
            status=response.status_code,
            request_headers=sent,
            request_body=json,
            response_headers=response.headers.multi_items(),
            response_body=body if isinstance(body, dict | list) else response.text,
            operation=operation,
            name=name,
            task=task_id,
            at=now,
            elapsed=(now - task.created) if task else (0.0 if task_id else None),
        )
        return response

    def fetch_file(self, client: httpx2.Client, task: _Task, index: int, url: str, with_files: bool) -> str:
        """GET one result file (not through the gate: it may live on another host) and record it; a note if not."""
        parts = urlsplit(url)
        started = self.clock()
        try:
            response = client.get(url)
        except (httpx2.TimeoutException, httpx2.TransportError) as exc:
            return f"file {task.model} #{index}: not fetched ({type(exc).__name__}: {exc})"
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        self.writer.write(
            method="GET",
            path=parts.path,
            query=parts.query,
            origin=f"{parts.scheme}://{parts.netloc}",
            status=response.status_code,
            response_headers=response.headers.multi_items(),
            response_body=None if response.status_code < 300 else parse_json(response.content),
            operation="file",
            name=f"file {task.model} #{index}",
            task=task.task_id,
            at=started,
            elapsed=started - task.created,
            file=FileRecord(kind, len(response.content), response.content if with_files else None)
            if response.status_code < 300
            else None,
        )
        return ""


def record(options: RecordOptions, *, progress: Progress = print, timing: Timing | None = None) -> RecordResult:
    """Run the record plan; raises `TargetUnreachable` when the target does not answer."""
    spec = load()
    seed = options.seed if options.seed is not None else random.randrange(2**32)
    models = sample_models(spec, list(options.models) or None, seed)
    target = probe(options.base_url, timeout=min(options.request_timeout, 10.0), token=options.mock_token)
    limit, budget_line = resolve_budget(Options(options.base_url, options.api_key, budget=options.budget), target)
    progress(f"target {options.base_url}: {'our mock' if target.is_mock else 'not the mock'}; {budget_line}")
    budget = Budget(limit)
    routes = [Route(op.method, op.path, op.operation_id) for op in spec.operations.values()]
    gate = Gate(options.base_url, budget, routes, timeout=options.request_timeout)
    result = RecordResult(options.out, budget_limit=limit, notes=[budget_line, f"seed {seed}"])
    redactor = Redactor(secrets=(options.api_key, *([options.mock_token] if options.mock_token else [])))
    header = {"source": options.base_url, "tool": "shuyou-contracts record", "with_files": options.with_files}
    with ExitStack() as stack:
        served = serve_in_thread(gate)
        stack.callback(served.stop)
        writer = stack.enter_context(CassetteWriter(options.out, redactor=redactor, **header))
        auth = {"Authorization": f"Bearer {options.api_key}"}
        client = stack.enter_context(
            httpx2.Client(base_url=served.base_url, headers=auth, timeout=options.request_timeout)
        )
        files = stack.enter_context(httpx2.Client(timeout=options.request_timeout, follow_redirects=True))
        recorder = _Recorder(writer, spec, timing or Timing(), target.is_mock, options.mock_token)
        ops = spec.operations
        recorder.send(client, "GET", ops["getCredits"].path, operation="getCredits", name="credits")
        unknown = ops["getPrediction"].path.replace("{prediction_id}", UNKNOWN_TASK_ID)
        recorder.send(client, "GET", unknown, operation="getPrediction", name="poll unknown id")
        tasks = [task for model in models if (task := _create(recorder, client, spec, model, result, progress))]
        _poll_all(recorder, client, spec, tasks, options.timeout, result)
        for task in tasks:
            for index, url in enumerate(_output_urls(task.final)):
                note = recorder.fetch_file(files, task, index, url, options.with_files)
                result.notes += [note] if note else []
        result.exchanges = writer.count
    state = budget.state()
    result.spent, result.refused = state.spent, state.refused
    result.tasks = [
        {"model": t.model, "function": t.function, "statuses": _runs(t.statuses), "elapsed": t.elapsed} for t in tasks
    ]
    return result


def _create(
    recorder: _Recorder, client: httpx2.Client, spec: ContractSpec, model: str, result: RecordResult, progress: Progress
) -> _Task | None:
    body = example_body(spec, model)
    if body is None:
        result.notes.append(f"{model}: no documented example request, not created")
        return None
    body.pop("webhook", None)  # a recording has no receiver: the webhook of the example is a real host
    created = recorder.clock()
    response = recorder.send(
        client, "POST", spec.operations["createPrediction"].path, operation="createPrediction",
        name=f"create {model}", json=body, headers={HINT_HEADER: HINT_LIFECYCLE},
    )  # fmt: skip
    if response.headers.get(GATE_HEADER):
        result.notes.append(f"{model}: not created, the gate refused it ({response.headers[GATE_HEADER]})")
        return None
    data = parse_json(response.content)
    data = data.get("data") if isinstance(data, dict) else None
    task_id = data.get("task_id") if isinstance(data, dict) else None
    if response.status_code != 200 or not isinstance(task_id, str):
        result.notes.append(f"{model}: create answered {response.status_code}")
        return None
    progress(f"  {model} ({spec.models[model]}): created {task_id}")
    return _Task(model, spec.models[model], task_id, created)


def _poll_all(
    recorder: _Recorder, client: httpx2.Client, spec: ContractSpec, tasks: list[_Task], timeout: float,
    result: RecordResult,
) -> None:  # fmt: skip
    pending, waited, step = list(tasks), 0.0, FIRST_WAIT
    while pending and waited < timeout:
        step = min(step, timeout - waited)
        recorder.wait(client, step)
        waited += step
        step = min(step * 2, MAX_WAIT)
        still = []
        for task in pending:
            path = spec.operations["getPrediction"].path.replace("{prediction_id}", task.task_id)
            response = recorder.send(
                client, "GET", path, operation="getPrediction", name=f"poll {task.model}", task=task
            )
            body = parse_json(response.content)
            data = body.get("data") if isinstance(body, dict) else None
            status = data.get("task_status") if isinstance(data, dict) else None
            if isinstance(status, str):
                task.statuses.append(status)
            task.elapsed = recorder.clock() - task.created
            if isinstance(status, str) and status in spec.terminal:
                task.final = body
            else:
                still.append(task)
        pending = still
    for task in pending:
        result.notes.append(f"{task.model}: not terminal after {timeout:g} s (last: {task.statuses[-1:]})")


def _created_id(operation: str, status: int, body: Any) -> str | None:
    data = body.get("data") if operation == "createPrediction" and status == 200 and isinstance(body, dict) else None
    task_id = data.get("task_id") if isinstance(data, dict) else None
    return task_id if isinstance(task_id, str) else None


def _output_urls(body: Any) -> list[str]:
    data = body.get("data") if isinstance(body, dict) else None
    output = data.get("output") if isinstance(data, dict) else None
    urls = []
    for item in output if isinstance(output, list) else []:
        if isinstance(item, dict):
            url = item.get(str(item.get("type")))
            if isinstance(url, str) and url.startswith(("http://", "https://")):
                urls.append(url)
    return urls


def _runs(statuses: list[str]) -> list[str]:
    return [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]]
