"""One harness run: probe the target, put the budget gate in front of it, run the schemathesis phases, the
lifecycle and the webhook checks, and gather everything into a `RunResult`."""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx2

from contracts.budget import Budget
from contracts.findings import Finding, FindingSink, Kind
from contracts.gate import HINT_HEADER, HINT_LIFECYCLE, Gate, Route
from contracts.report import RunResult
from contracts.rules import PHASES, SCHEMATHESIS_PHASES, Plan, partial_reason, skipped
from contracts.serving import serve_in_thread
from contracts.spec import ContractSpec, load
from contracts.target import TargetInfo, probe
from contracts.tasks import TaskBook

if TYPE_CHECKING:
    from contracts.receiver import WebhookReceiver

__all__ = ["ALL_PHASES", "DEFAULT_REMOTE_BUDGET", "Options", "Progress", "plan_text", "resolve_budget", "run"]

ALL_PHASES = PHASES  # the name the CLI and the pytest plugin use; the list is in contracts.rules
DEFAULT_REMOTE_BUDGET = 5


@dataclass(frozen=True, slots=True)
class Options:
    """Everything a run needs; the CLI and the pytest plugin build one."""

    base_url: str
    api_key: str
    budget: int | None = None
    dry_run: bool = False
    seed: int | None = None
    max_examples: int = 10
    phases: tuple[str, ...] = ALL_PHASES
    models: tuple[str, ...] = ()
    webhook_url: str | None = None
    webhook_secret: str | None = None
    receiver_port: int = 0
    timeout: float = 300.0
    request_timeout: float = 30.0
    strict: bool = False
    other_api_key: str | None = None
    rate_limit: str | None = None
    workers: int = 1
    mock_token: str | None = None  # our mock's admin token, for its /_mock surface off loopback
    command: str = ""
    extra_notes: tuple[str, ...] = field(default=())


Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def resolve_budget(options: Options, target: TargetInfo | None) -> tuple[int | None, str]:
    if options.budget is not None:
        return options.budget, f"budget: at most {options.budget} billable call(s) (--budget)"
    if target is not None and target.is_mock:
        return None, "budget: unlimited (the target is our mock; pass --budget N to cap it)"
    return DEFAULT_REMOTE_BUDGET, (
        f"budget: at most {DEFAULT_REMOTE_BUDGET} billable call(s), the default against a target that is not "
        "our mock (pass --budget N to change it)"
    )


def plan_text(options: Options, spec: ContractSpec, models: list[str], seed: int) -> str:
    limit, budget_line = resolve_budget(options, None)
    budget_line = (
        budget_line
        if options.budget is not None
        else f"budget: at most {DEFAULT_REMOTE_BUDGET} billable call(s) unless the target turns out to be our "
        "mock (unlimited there); a dry run does not probe"
    )
    ops = ", ".join(f"{op.operation_id} ({op.method} {op.path})" for op in spec.operations.values())
    lines = [
        f"Plan for {options.base_url} (dry run: nothing is sent)",
        f"  phases: {', '.join(options.phases) or 'none'}",
        f"  operations: {ops}",
        f"  max examples per operation and phase: {options.max_examples}; seed {seed}",
    ]
    if "lifecycle" in options.phases:
        lines.append(
            f"  lifecycle models ({len(models)} create calls, one more against our mock: a forced failure): "
            f"{', '.join(models)}"
        )
        lines.append(f"  poll timeout: {options.timeout:g} s (mock: clock advanced instead of waiting)")
    if "lifecycle" in options.phases:
        hook = options.webhook_url or "the local receiver (loopback targets only)"
        signed = "verified with --webhook-secret" if options.webhook_secret else "not verified (no --webhook-secret)"
        lines.append(f"  webhooks: delivered to {hook}; signatures {signed}")
    if options.rate_limit:
        lines.append(f"  schemathesis rate limit: {options.rate_limit}")
    lines.append(f"  {budget_line}")
    at_most = "unbounded" if limit is None else str(limit)
    lines.append(f"  billable calls at most: {at_most} (every createPrediction the target accepts counts)")
    lines.extend(_rules_plan(options, limit))
    return "\n".join(lines)


def _rules_plan(options: Options, limit: int | None) -> list[str]:
    from contracts.rules import RULES

    loopback = TargetInfo(options.base_url, is_mock=False).is_loopback
    plan = Plan(
        options.phases,
        limit,
        receiver=bool(options.webhook_url) or loopback,
        secret=bool(options.webhook_secret),
        other_key=bool(options.other_api_key) or loopback,
    )
    reasons = skipped(plan)
    lines = [f"  rules: {len(RULES) - len(reasons)} of {len(RULES)} will run (`shuyou-contracts rules` lists them)"]
    lines.extend(f"    skipped {rule}: {reason}" for rule, reason in reasons.items())
    partly = {rule.id: why for rule in RULES if (why := partial_reason(rule, plan)) is not None}
    lines.extend(f"    partly {rule}: {reason}" for rule, reason in partly.items())
    return lines


def run(options: Options, *, progress: Progress = _stderr) -> RunResult:
    """Run the harness against `options.base_url`; raises `TargetUnreachable` when it does not answer."""
    from contracts.phases import PhaseSettings, run_phases  # schemathesis is heavy: import when running

    spec = load()
    seed = options.seed if options.seed is not None else random.randrange(2**32)
    models = _models(options, spec, seed)
    target = probe(options.base_url, timeout=min(options.request_timeout, 10.0), token=options.mock_token)
    limit, budget_line = resolve_budget(options, target)
    progress(f"target {options.base_url}: {'our mock' if target.is_mock else 'not the mock'}; {budget_line}")
    budget = Budget(limit)
    sink, book = FindingSink(), TaskBook()
    notes = [budget_line, *options.extra_notes]
    timings: dict[str, float] = {}
    lifecycle: list[dict[str, object]] = []
    routes = [Route(op.method, op.path, op.operation_id) for op in spec.operations.values()]
    gate = Gate(options.base_url, budget, routes, timeout=options.request_timeout, keep_for_rejects=1)
    with ExitStack() as stack:
        served = serve_in_thread(gate)
        stack.callback(served.stop)
        receiver, webhook_url = _receiver(options, target, stack, notes)
        st_phases = tuple(p for p in options.phases if p in SCHEMATHESIS_PHASES)
        # schemathesis waits longer than the gate, so a slow target is answered by the gate (a transport finding)
        settings = PhaseSettings(
            served.base_url,
            options.api_key,
            st_phases,
            options.max_examples,
            seed,
            options.request_timeout + 5.0,
            webhook_url,
            rate_limit=options.rate_limit,
            workers=options.workers,
        )
        from contracts.observer import RunObserver

        # The lifecycle goes first: with a small budget its few creates are the best use of it.
        if "lifecycle" in options.phases:
            started = time.monotonic()
            lifecycle = _lifecycle(
                options, spec, book, sink, served.base_url, target, models, webhook_url, receiver, progress
            )
            timings["lifecycle"] = time.monotonic() - started
        outcome = run_phases(settings, RunObserver(spec, book, sink), sink, progress)
        timings.update({name: t for name, t in outcome.timings.items() if name in SCHEMATHESIS_PHASES})
        if outcome.errors:
            notes.append(f"schemathesis reported {len(outcome.errors)} error(s) of its own; first: {outcome.errors[0]}")
    for operation, message in gate.log.transport:
        sink.add([Finding(Kind.TRANSPORT, "transport", message, operation, source="gate")])
    state = budget.state()
    plan = Plan(
        options.phases,
        limit,
        receiver=bool(webhook_url) and receiver is not None,
        secret=bool(options.webhook_secret),
        other_key=bool(options.other_api_key) or target.is_mock,
    )
    return RunResult(
        base_url=options.base_url,
        is_mock=target.is_mock,
        seed=seed,
        strict=options.strict,
        budget_limit=limit,
        budget_spent=state.spent,
        budget_refused=state.refused,
        statuses=gate.log.statuses,
        checks_run=sink.checks_run,
        checks_failed=sink.checks_failed,
        findings=sink.findings(),
        timings=timings,
        lifecycle=lifecycle,
        notes=notes,
        command=options.command or f"python -m contracts run --base-url {options.base_url} --seed {seed}",
        rule_runs=sink.runs,
        rule_fails=sink.fails,
        skipped=skipped(plan),
    )


def _models(options: Options, spec: ContractSpec, seed: int) -> list[str]:
    from contracts.polling import sample_models

    return sample_models(spec, list(options.models) or None, seed) if "lifecycle" in options.phases else []


def _receiver(
    options: Options, target: TargetInfo, stack: ExitStack, notes: list[str]
) -> tuple[WebhookReceiver | None, str | None]:
    if "lifecycle" not in options.phases:
        return None, options.webhook_url
    secrets = [options.webhook_secret] if options.webhook_secret else []
    if not options.webhook_url and not target.is_loopback:
        notes.append(
            "webhooks not checked: the target is not on loopback; pass --webhook-url (a public URL "
            "forwarding to the local receiver, see --receiver-port)"
        )
        return None, None
    from contracts.receiver import WebhookReceiver

    receiver = WebhookReceiver(secrets, port=options.receiver_port)
    stack.callback(receiver.stop)
    if not secrets:
        notes.append("webhook signatures not checked: pass --webhook-secret whsec_...")
    if options.webhook_url:
        notes.append(f"webhooks: {options.webhook_url} must forward to the local receiver at {receiver.url}")
        return receiver, options.webhook_url
    return receiver, receiver.url


def _lifecycle(
    options: Options,
    spec: ContractSpec,
    book: TaskBook,
    sink: FindingSink,
    gate_url: str,
    target: TargetInfo,
    models: list[str],
    webhook_url: str | None,
    receiver: WebhookReceiver | None,
    progress: Progress,
) -> list[dict[str, object]]:
    from contracts.deliveries import check_deliveries, wait_for_deliveries
    from contracts.polling import Lifecycle

    progress(f"phase lifecycle ... ({', '.join(models)})")
    auth = {"Authorization": f"Bearer {options.api_key}", HINT_HEADER: HINT_LIFECYCLE}
    other_key = options.other_api_key or (f"{options.api_key}-contracts-other" if target.is_mock else None)
    with ExitStack() as stack:
        client = stack.enter_context(httpx2.Client(base_url=gate_url, headers=auth, timeout=options.request_timeout))
        other = None
        if other_key:
            other = stack.enter_context(
                httpx2.Client(
                    base_url=gate_url,
                    headers={"Authorization": f"Bearer {other_key}", HINT_HEADER: HINT_LIFECYCLE},
                    timeout=options.request_timeout,
                )
            )
        runner = Lifecycle(
            client,
            spec,
            book,
            sink,
            target.is_mock,
            options.timeout,
            webhook_url,
            other,
            progress,
            mock_token=options.mock_token,
        )
        outcomes = runner.run(models)
    from contracts.results import check_results

    check_results(spec, outcomes, sink)
    if receiver is not None and webhook_url:
        done = {outcome.task_id for outcome in outcomes if outcome.task_id and outcome.final is not None}
        fetch = receiver.deliveries
        wait_for_deliveries(fetch, done, grace=15.0 if target.is_mock else min(options.timeout, 60.0))
        findings = check_deliveries(spec, fetch(), outcomes, secret_given=bool(options.webhook_secret))
        rules = ["webhook_delivery", "webhook_body", "webhook_state"]
        rules += ["webhook_signature"] if options.webhook_secret else []
        for task_id in done:
            failed = {finding.rule for finding in findings if finding.task_id == task_id}
            for rule in rules:
                sink.ran(rule, failed=rule in failed, operation="webhook:predictionFinished")
        sink.add(findings)
    return [
        {"model": o.model, "function": o.function, "task_id": o.task_id, "statuses": o.statuses, "note": o.note}
        for o in outcomes
    ]
