"""The contract checks, written once: pure functions of one HTTP exchange (plus the run's `TaskBook`).

The CLI runs them from a schemathesis check (`contracts.st_checks`), the lifecycle poller and the webhook
comparison; the pytest suite reports them per rule. Each yields `Finding`s; a violated element marked
`x-assumption` in the spec gives an `assumption` finding instead of a `contract` one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from contracts.findings import Finding, FindingSink, Kind
from contracts.rules import BY_ID
from contracts.spec import PENDING_STATUS, REQUEST_ID_HEADER, SUCCESS_STATUS, ContractSpec, SchemaError
from contracts.tasks import TaskBook

__all__ = [
    "NOT_JSON",
    "Exchange",
    "check_exchange",
    "check_prediction_body",
    "count_rules",
    "rule_of_pointer",
    "rules_for",
]

NOT_JSON: Any = object()

# The rule a schema violation is reported under, by the part of the body it sits in (the first prefix wins);
# the rules themselves are listed once, in `contracts.rules`.
_POINTER_RULES = (
    ("/data/task_status", "task_status"),
    ("/data/task_id", "task_id_format"),
    ("/request_id", "request_id_format"),
    ("/data/output", "output"),
    ("/usage", "usage_arithmetic"),
    ("/error/type", "error_type"),
)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request/response pair as the checks see it (headers with lower-case names)."""

    operation: str
    status_code: int
    headers: Mapping[str, str]
    body: Any
    request_body: Any = None
    task_id: str | None = None


_SUCCESS_RULES = ("envelope", "task_id_format")
_PREDICTION_RULES = (
    "task_status",
    "request_id_format",
    "output",
    "output_only_on_success",
    "output_matches_function",
    "usage_arithmetic",
    "terminal_sticky",
)
_ERROR_RULES = ("error_envelope", "error_type", "undocumented_status")
_FAILED_STATUS = "failed"  # the documented failure status (NOTES §1.3)


def rules_for(exchange: Exchange) -> tuple[str, ...]:
    """The rules `check_exchange` evaluates on this exchange (for the "checks run" count)."""
    rules: tuple[str, ...] = ("request_id_header",)
    if exchange.status_code >= 400:
        return rules + _ERROR_RULES
    if 200 <= exchange.status_code < 300:
        rules += _SUCCESS_RULES if exchange.operation != "getCredits" else ("envelope", "credits_balance")
        if exchange.operation == "createPrediction":
            rules += ("created_processing", "task_status")
        if exchange.operation == "getPrediction":
            rules += _PREDICTION_RULES
            status = _data(exchange.body).get("task_status")
            rules += ("task_id_matches",) if exchange.task_id else ()
            rules += ("usage_on_success",) if status == SUCCESS_STATUS else ()
            rules += ("failed_task_body",) if status == _FAILED_STATUS else ()
    return rules


def count_rules(sink: FindingSink, exchange: Exchange, findings: list[Finding]) -> None:
    failed = {finding.rule for finding in findings}
    for rule in rules_for(exchange):
        sink.ran(rule, failed=rule in failed, operation=exchange.operation)


def _data(body: Any) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) else {}


def check_exchange(spec: ContractSpec, exchange: Exchange, book: TaskBook | None = None) -> list[Finding]:
    findings = list(_check_header(spec, exchange))
    if exchange.status_code >= 400:
        findings.extend(_check_error(spec, exchange))
    elif 200 <= exchange.status_code < 300:
        findings.extend(_check_success_body(spec, exchange))
        if exchange.operation == "createPrediction":
            findings.extend(_check_created(exchange))
        if exchange.operation == "getCredits":
            findings.extend(_check_credits(exchange))
        if exchange.operation == "getPrediction" and isinstance(exchange.body, dict):
            asked = _data(exchange.body).get("task_id")
            if exchange.task_id and isinstance(asked, str) and asked != exchange.task_id:
                findings.append(
                    _finding("task_id_matches", f"asked for task {exchange.task_id}, answered for {asked}", exchange)
                )
            findings.extend(check_prediction_body(spec, exchange.body, book, operation=exchange.operation))
    return findings


def _decided(rule: str) -> str | None:
    """The source of a rule that is one of our guesses (a DECISIONS row), to mark its findings as assumptions."""
    return BY_ID[rule].source if BY_ID[rule].assumption else None


def _check_created(exchange: Exchange) -> Iterator[Finding]:
    status = _data(exchange.body).get("task_status")
    if status is not None and status != PENDING_STATUS:
        yield _finding("created_processing", f"a new task is {status!r}, not {PENDING_STATUS!r}", exchange)


def _check_credits(exchange: Exchange) -> Iterator[Finding]:
    data = _data(exchange.body)
    try:
        total, usage, balance = (float(data[name]) for name in ("total_credits", "total_usage", "balance"))
    except (KeyError, TypeError, ValueError):
        return  # the schema check reports missing or mistyped fields
    if not math.isclose(balance, total - usage, rel_tol=1e-9, abs_tol=1e-6):
        yield _finding("credits_balance", f"balance {balance} != total_credits {total} - total_usage {usage}", exchange)


def _finding(rule: str, message: str, exchange: Exchange, *, assumption: str | None = None) -> Finding:
    kind = Kind.ASSUMPTION if assumption else Kind.CONTRACT
    if assumption:
        message = f"{message} [x-assumption: {assumption}]"
    task_id = exchange.task_id
    if task_id is None and isinstance(exchange.body, dict) and isinstance(exchange.body.get("data"), dict):
        value = exchange.body["data"].get("task_id")
        task_id = value if isinstance(value, str) else None
    return Finding(kind, rule, message, exchange.operation, task_id, exchange.status_code)


def _check_header(spec: ContractSpec, exchange: Exchange) -> Iterator[Finding]:
    if exchange.headers.get(REQUEST_ID_HEADER.lower()):
        return
    declared, assumption = spec.header_assumption(exchange.operation, exchange.status_code, REQUEST_ID_HEADER)
    if declared:
        yield _finding(
            "request_id_header",
            f"{exchange.status_code} response has no {REQUEST_ID_HEADER} header",
            exchange,
            assumption=assumption,
        )


def rule_of_pointer(pointer: str, default_rule: str) -> str:
    """The rule a schema violation at `pointer` (of a Get Prediction-shaped body) is reported under."""
    return next((name for prefix, name in _POINTER_RULES if pointer.startswith(prefix)), default_rule)


def _schema_findings(errors: list[SchemaError], exchange: Exchange, default_rule: str) -> Iterator[Finding]:
    for error in errors:
        rule = rule_of_pointer(error.pointer, default_rule)
        yield _finding(rule, f"body at {error.pointer}: {error.message}", exchange, assumption=error.assumption)


def _check_success_body(spec: ContractSpec, exchange: Exchange) -> Iterator[Finding]:
    pointer = spec.response_schema_ref(exchange.operation, exchange.status_code)
    if pointer is None:
        if str(exchange.status_code) not in spec.documented_statuses(exchange.operation):
            yield _finding("undocumented_status", f"status {exchange.status_code} is not documented", exchange)
        return
    if exchange.body is NOT_JSON:
        yield _finding("envelope", "body is not JSON", exchange)
        return
    yield from _schema_findings(spec.validate(pointer, exchange.body), exchange, "envelope")


def _check_error(spec: ContractSpec, exchange: Exchange) -> Iterator[Finding]:
    status = exchange.status_code
    if exchange.body is NOT_JSON:
        yield _finding("error_envelope", f"{status} body is not JSON (expected the error envelope)", exchange)
        return
    envelope = spec.validate("#/components/schemas/ErrorResponse", exchange.body)
    if envelope:
        yield from _schema_findings(envelope, exchange, "error_envelope")
        return
    error = exchange.body["error"]
    if str(error.get("code")) != str(status):
        yield _finding("error_envelope", f"error.code is {error.get('code')!r} but the status is {status}", exchange)
    allowed = spec.error_types(exchange.operation, status)
    if not allowed:
        if str(status) not in spec.documented_statuses(exchange.operation):
            yield _finding("undocumented_status", f"status {status} is not documented for this operation", exchange)
        return
    if error.get("type") not in allowed:
        response = spec.response(exchange.operation, status)
        yield _finding(
            "error_type",
            f"{status} error.type {error.get('type')!r} is not one of the documented {allowed}",
            exchange,
            assumption=spec.assumption_of(response),
        )


def check_prediction_body(
    spec: ContractSpec, body: Mapping[str, Any], book: TaskBook | None, *, operation: str = "getPrediction"
) -> Iterator[Finding]:
    """Semantic rules on a Get Prediction body that a JSON Schema cannot say."""
    data = body.get("data")
    if not isinstance(data, dict):
        return
    exchange = Exchange(operation, 200, {}, body, task_id=data.get("task_id"))
    status, output = data.get("task_status"), data.get("output")
    if output and status != SUCCESS_STATUS:
        yield _finding("output_only_on_success", f"output present while task_status is {status!r}", exchange)
    if status == SUCCESS_STATUS and not output:
        yield _finding("output_only_on_success", "task_status is 'success' but there is no output", exchange)
    yield from _check_usage(body.get("usage"), exchange)
    if status == SUCCESS_STATUS and not isinstance(body.get("usage"), dict):
        yield _finding(
            "usage_on_success", "task succeeded but carries no usage", exchange, assumption=_decided("usage_on_success")
        )
    if status == _FAILED_STATUS:
        yield from _check_failed(body, exchange)
    record = book.get(data["task_id"]) if book is not None and isinstance(data.get("task_id"), str) else None
    if record is not None and record.function and isinstance(output, list):
        kinds = sorted({str(item.get("type")) for item in output if isinstance(item, dict)} - {record.function})
        if kinds:
            yield _finding(
                "output_matches_function",
                f"model {record.model} is a {record.function} model but its output has items of type {kinds}",
                exchange,
            )
    if book is not None and isinstance(data.get("task_id"), str) and isinstance(status, str):
        before = book.observe(data["task_id"], status, dict(body))
        terminal = [s for s in before if s in spec.terminal]
        if terminal and status != terminal[0]:
            yield _finding(
                "terminal_sticky", f"task went from terminal {terminal[0]!r} to {status!r} (seen: {before})", exchange
            )


def _check_failed(body: Mapping[str, Any], exchange: Exchange) -> Iterator[Finding]:
    mark = _decided("failed_task_body")
    if not isinstance(_data(body).get("error"), dict):
        yield _finding("failed_task_body", "task failed but data.error is missing", exchange, assumption=mark)
    usage = body.get("usage")
    if isinstance(usage, dict) and usage.get("cost") not in (None, 0, 0.0):
        yield _finding(
            "failed_task_body",
            f"task failed but was billed (usage.cost {usage.get('cost')})",
            exchange,
            assumption=mark,
        )


def _check_usage(usage: Any, exchange: Exchange) -> Iterator[Finding]:
    if not isinstance(usage, dict):
        return
    try:
        upstream = float(usage["upstream_cost"])
        percent = float(usage["discount_percent"])
        cost = float(usage["cost"])
        discount = float(usage["discount"])
    except (KeyError, TypeError, ValueError):
        return  # the schema check reports missing or mistyped fields
    if not math.isclose(cost, upstream * percent, rel_tol=1e-6, abs_tol=1e-9):
        yield _finding(
            "usage_arithmetic", f"usage.cost {cost} != upstream_cost {upstream} x discount_percent {percent}", exchange
        )
    if not math.isclose(discount, upstream - cost, rel_tol=1e-6, abs_tol=1e-9):
        yield _finding(
            "usage_arithmetic", f"usage.discount {discount} != upstream_cost {upstream} - cost {cost}", exchange
        )
