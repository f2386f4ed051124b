"""The schemathesis phases (examples, coverage, fuzzing, stateful) over the spec, through the budget gate."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from schemathesis.config import HealthCheck
from schemathesis.engine import events, from_schema

import openapi
from contracts import st_checks
from contracts.findings import Finding, FindingSink, Kind
from contracts.observer import RunObserver
from contracts.rules import SCHEMATHESIS_CHECKS, SCHEMATHESIS_PHASES

__all__ = ["BUILTIN_CHECKS", "PhaseOutcome", "PhaseSettings", "Progress", "build_schema", "run_phases"]

# Built-in checks: the rule table's schemathesis rules. Response schemas, headers and statuses are checked by
# `shuyou_contract` (which tells documented elements from assumed ones), so their built-in twins stay off
# (status_code_conformance is `undocumented_status`; ignored_auth is `auth_required`; use_after_free needs a
# delete operation, which the API has not).
BUILTIN_CHECKS = SCHEMATHESIS_CHECKS

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class PhaseSettings:
    gate_url: str
    api_key: str
    phases: tuple[str, ...] = SCHEMATHESIS_PHASES
    max_examples: int = 10
    seed: int = 0
    request_timeout: float = 30.0
    webhook_url: str | None = None
    exclude_checks: tuple[str, ...] = ()
    rate_limit: str | None = None
    workers: int = 1


@dataclass(slots=True)
class PhaseOutcome:
    timings: dict[str, float] = field(default_factory=dict)
    scenarios: int = 0
    errors: list[str] = field(default_factory=list)


def build_schema(settings: PhaseSettings) -> Any:
    config = schemathesis.Config(seed=settings.seed, suppress_health_check=list(HealthCheck))
    config.cache.enabled = False
    project = config.projects.override
    project.update(
        base_url=settings.gate_url,
        headers={"Authorization": f"Bearer {settings.api_key}"},
        request_timeout=settings.request_timeout,
        request_retries=0,
        workers=settings.workers,
        rate_limit=settings.rate_limit,
    )
    project.phases.update(phases=list(settings.phases))
    project.generation.update(max_examples=settings.max_examples, database="none")
    # Rejecting invalid input with any 4xx the spec documents (413 for an over-long prompt, DECISIONS 11) is right.
    negative = project.checks.negative_data_rejection
    spec = openapi.load_spec()
    documented = openapi.documented_statuses(spec, prefix="4")
    negative.expected_statuses = sorted(set(negative.expected_statuses) | documented)
    included = [name for name in BUILTIN_CHECKS if name not in settings.exclude_checks]
    project.checks.update(included_check_names=[*included, "shuyou_contract"])
    return schemathesis.openapi.from_dict(spec, config=config)


def run_phases(settings: PhaseSettings, observer: RunObserver, sink: FindingSink, progress: Progress) -> PhaseOutcome:
    outcome = PhaseOutcome()
    if not settings.phases:
        return outcome
    schema = build_schema(settings)
    webhook = observer.spec.document["components"]["schemas"].get("WebhookUrl", {})
    st_checks.attach(schema, observer, webhook_url=settings.webhook_url, webhook_pattern=webhook.get("pattern"))
    started: dict[str, float] = {}
    try:
        for event in from_schema(schema).execute():
            if isinstance(event, events.PhaseStarted):
                started[event.phase.name.value] = time.monotonic()
                if event.phase.name.value in SCHEMATHESIS_PHASES:
                    progress(f"phase {event.phase.name.value} ...")
            elif isinstance(event, events.PhaseFinished):
                name = event.phase.name.value
                outcome.timings[name] = outcome.timings.get(name, 0.0) + time.monotonic() - started.get(name, 0.0)
            elif isinstance(event, events.ScenarioFinished):
                outcome.scenarios += 1
                _collect(event, observer, sink)
                progress(f"  {event.phase.value:<9} {event.recorder.label:<40} {event.status.value}")
            elif isinstance(event, events.NonFatalError):
                outcome.errors.append(_error_line(event, sink))
                progress(f"  error: {outcome.errors[-1]}")
            elif isinstance(event, events.FatalError):
                raise RuntimeError(f"schemathesis stopped: {event.exception}") from event.exception
    finally:
        st_checks.detach(schema)
    return outcome


def _collect(event: events.ScenarioFinished, observer: RunObserver, sink: FindingSink) -> None:
    recorder = event.recorder
    for case_id, nodes in recorder.checks.items():
        for node in nodes:
            if node.name == "shuyou_contract":
                continue  # counted by the observer itself
            failed = node.failure_info is not None
            case_node = recorder.cases.get(case_id)
            case = case_node.value if case_node is not None else None
            sink.ran(node.name, failed=failed, operation=observer.operation_of(case) if case is not None else "")
            if node.failure_info is None:
                continue
            failure = node.failure_info.failure
            interaction = recorder.interactions.get(case_id)
            status = interaction.response.status_code if interaction and interaction.response else None
            operation = observer.operation_of(case) if case is not None else recorder.label
            kind = observer.classify_failure(node.name, case) if case is not None else Kind.CONTRACT
            title = failure.title.strip()
            lines = [line.strip() for line in failure.message.strip().splitlines() if line.strip()]
            detail = " | ".join(lines[:3])
            message = f"{title}: {detail}" if detail and detail != title else title
            sink.add([Finding(kind, node.name, message, operation, None, status, "schemathesis")])


def _error_line(event: events.NonFatalError, sink: FindingSink) -> str:
    error = event.value
    line = f"{event.label}: {type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    if isinstance(error, requests.RequestException):
        sink.add([Finding(Kind.TRANSPORT, "transport", line, event.label, source="schemathesis")])
    return line
