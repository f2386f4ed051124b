"""Turns what schemathesis sent and received into `Exchange`s for the checks, and remembers created tasks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from contracts.checks import NOT_JSON, Exchange, check_exchange, count_rules
from contracts.findings import Finding, FindingSink, Kind
from contracts.gate import GATE_REFUSED_STATUS
from contracts.spec import ContractSpec
from contracts.tasks import TaskBook

__all__ = ["RunObserver", "lower_headers", "parse_json"]


def parse_json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return NOT_JSON


def lower_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        out[name.lower()] = value[0] if isinstance(value, list) and value else str(value)
    return out


def _is_content_type_probe(case: Any) -> bool:
    from schemathesis.generation.meta import CONTENT_TYPE_PROBES, coverage_scenario

    return coverage_scenario(case) in CONTENT_TYPE_PROBES


class RunObserver:
    """The `Observer` a run attaches to its schemathesis schema."""

    def __init__(self, spec: ContractSpec, book: TaskBook, sink: FindingSink) -> None:
        self.spec = spec
        self.book = book
        self.sink = sink
        self._by_label = {f"{op.method} {op.path}": op.operation_id for op in spec.operations.values()}

    def operation_of(self, case: Any) -> str:
        return self._by_label.get(f"{case.operation.method.upper()} {case.operation.path}", "")

    def observe(self, case: Any, response: Any) -> None:
        operation = self.operation_of(case)
        if not operation or case.method.upper() != case.operation.method.upper():
            return  # an unsupported-method probe: not an exchange of a documented operation
        if _is_content_type_probe(case):
            return  # an undeclared Content-Type: protocol-level rejection, not an exchange the spec describes
        body = parse_json(response.content)
        task_id = (case.path_parameters or {}).get("prediction_id")
        exchange = Exchange(operation, response.status_code, lower_headers(response.headers), body, case.body, task_id)
        self.note_created(exchange)
        findings = check_exchange(self.spec, exchange, self.book)
        count_rules(self.sink, exchange, findings)
        self.sink.add(
            Finding(f.kind, f.rule, f.message, f.operation, f.task_id, f.status_code, "schemathesis") for f in findings
        )

    def note_created(self, exchange: Exchange) -> None:
        if exchange.operation != "createPrediction" or not 200 <= exchange.status_code < 300:
            return
        data = exchange.body.get("data") if isinstance(exchange.body, dict) else None
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if not isinstance(task_id, str):
            return
        model = exchange.request_body.get("model") if isinstance(exchange.request_body, dict) else None
        model = model if isinstance(model, str) else None
        self.book.created(task_id, model=model, function=self.spec.models.get(model or ""))

    def keep_failure(self, failure: Any, case: Any, response: Any) -> bool:
        # A check that sends its own request: when the gate refused that one (budget spent), the failure
        # quotes the gate's status and says nothing about the target.
        return f"`{GATE_REFUSED_STATUS} " not in str(getattr(failure, "message", ""))

    def classify_failure(self, check: str, case: Any) -> Kind:
        """A schemathesis built-in failure is a contract break, unless it turns on an assumed element only."""
        body = getattr(case, "body", None)
        pointer = self.spec.request_schema_ref(self.operation_of(case)) if isinstance(body, dict) else None
        if pointer is None:
            return Kind.CONTRACT
        if check == "negative_data_rejection":
            # Accepted, though invalid only by our guesses (e.g. an http webhook to a non-loopback host).
            errors = self.spec.validate(pointer, body)
            if errors and all(error.assumption for error in errors):
                return Kind.ASSUMPTION
        if check == "positive_data_acceptance" and self.spec.assumption_used(pointer, body):
            return Kind.ASSUMPTION  # rejected, though valid only by our guesses (e.g. duration "4")
        return Kind.CONTRACT
