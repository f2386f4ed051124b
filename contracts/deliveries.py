"""Webhook rules over what the receiver recorded: one terminal delivery per task, a valid signature when a
secret is given, a body valid per the spec's webhook schema and equal to the task's final polled state."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from contracts.checks import rule_of_pointer
from contracts.findings import Finding, Kind
from contracts.polling import TaskOutcome
from contracts.spec import ContractSpec
from contracts.webhooks import WEBHOOK_NAME, webhook_body_pointer

__all__ = ["Deliveries", "check_deliveries", "wait_for_deliveries"]

Deliveries = Callable[[], list[dict[str, Any]]]
# Fields of a Get Prediction body that are per response, not per task state.
_PER_RESPONSE = ("request_id",)


def wait_for_deliveries(fetch: Deliveries, task_ids: set[str], *, grace: float, settle: float = 0.3) -> None:
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        seen = {_task_id(delivery) for delivery in fetch()}
        if task_ids <= seen:
            break
        time.sleep(0.05)
    time.sleep(settle)  # a duplicate would arrive right behind the first


def _task_id(delivery: dict[str, Any]) -> str | None:
    body = delivery.get("body")
    data = body.get("data") if isinstance(body, dict) else None
    value = data.get("task_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _webhook_mark(spec: ContractSpec, header: str | None = None) -> str | None:
    item = spec.document.get("webhooks", {}).get(WEBHOOK_NAME, {})
    operation = spec.resolve(item).get("post", {})
    if header is None:
        return spec.assumption_of(operation) or spec.assumption_of(item)
    for parameter in operation.get("parameters", []):
        resolved = spec.resolve(parameter)
        if str(resolved.get("name", "")).lower() == header:
            return spec.assumption_of(parameter) or spec.assumption_of(resolved)
    return None


def check_deliveries(
    spec: ContractSpec, deliveries: list[dict[str, Any]], outcomes: list[TaskOutcome], *, secret_given: bool
) -> list[Finding]:
    return list(_check(spec, deliveries, outcomes, secret_given=secret_given))


def _finding(rule: str, message: str, task_id: str | None, mark: str | None) -> Finding:
    kind = Kind.ASSUMPTION if mark else Kind.CONTRACT
    suffix = f" [x-assumption: {mark}]" if mark else ""
    return Finding(kind, rule, message + suffix, "webhook:predictionFinished", task_id, source="webhook")


def _check(
    spec: ContractSpec, deliveries: list[dict[str, Any]], outcomes: list[TaskOutcome], *, secret_given: bool
) -> Iterator[Finding]:
    pointer = webhook_body_pointer(spec.document)
    for outcome in outcomes:
        if outcome.task_id is None or outcome.final is None:
            continue
        mine = [d for d in deliveries if _task_id(d) == outcome.task_id]
        terminal_events = {
            d.get("webhook_id") for d in mine if (d["body"].get("data") or {}).get("task_status") in spec.terminal
        }
        if not terminal_events:
            yield _finding(
                "webhook_delivery", f"no terminal webhook delivery for task {outcome.task_id}", outcome.task_id, None
            )
            continue
        if len(terminal_events) > 1:
            yield _finding(
                "webhook_delivery",
                f"{len(terminal_events)} distinct terminal deliveries for task "
                f"{outcome.task_id} (expected exactly one)",
                outcome.task_id,
                None,
            )
        if secret_given:
            for delivery in mine:
                if delivery.get("verified") is False:
                    yield _finding(
                        "webhook_signature",
                        f"signature does not verify: {delivery.get('verify_error')}",
                        outcome.task_id,
                        _webhook_mark(spec, "webhook-signature"),
                    )
                    break
        last = mine[-1]
        for error in spec.validate(pointer, last["body"]):
            # A break of a body rule (task_id_format, output, ...) is that rule's, seen in the webhook.
            rule = rule_of_pointer(error.pointer, "webhook_body")
            yield _finding(rule, f"body at {error.pointer}: {error.message}", outcome.task_id, error.assumption)
        yield from _compare(spec, last["body"], outcome)


def _compare(spec: ContractSpec, body: dict[str, Any], outcome: TaskOutcome) -> Iterator[Finding]:
    final = outcome.final or {}
    got, want = body.get("data") or {}, final.get("data") or {}
    if got.get("task_status") != want.get("task_status"):
        yield _finding(
            "webhook_state",
            f"webhook says task_status {got.get('task_status')!r}, polling says {want.get('task_status')!r}",
            outcome.task_id,
            None,
        )
        return
    strip = {k: v for k, v in body.items() if k not in _PER_RESPONSE}
    expected = {k: v for k, v in final.items() if k not in _PER_RESPONSE}
    if strip != expected:
        keys = sorted(k for k in set(strip) | set(expected) if strip.get(k) != expected.get(k))
        yield _finding(
            "webhook_state",
            f"webhook body differs from the final polled state in {keys}",
            outcome.task_id,
            _webhook_mark(spec),
        )
