"""The contract checks as pytest tests (collected with `pytest --pyargs contracts.suite`, see pytest_plugin).

One test per rule: it fails with the findings of that rule that fail the run (assumption differences only
under --contracts-strict). Needs the `contracts` plugin (installed with the package, pytest11).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from contracts.findings import Kind, is_failing

if TYPE_CHECKING:
    from contracts.report import RunResult

RULES = (
    # contracts.checks (the envelope family, over every exchange of every phase)
    "envelope", "task_status", "task_id_format", "request_id_format", "request_id_header", "output",
    "output_only_on_success", "output_matches_function", "usage_arithmetic", "terminal_sticky",
    "error_envelope", "error_type", "undocumented_status",
    # schemathesis built-ins
    "not_a_server_error", "status_code_conformance", "content_type_conformance", "negative_data_rejection",
    "positive_data_acceptance", "use_after_free", "ignored_auth",
    # lifecycle and webhooks
    "lifecycle_create", "lifecycle_timeout", "tenant_isolation",
    "webhook_delivery", "webhook_signature", "webhook_body", "webhook_state",
)  # fmt: skip


def _failing(result: RunResult, rule: str) -> list[str]:
    return [
        f"{f.kind.value}: {f.operation} {f.message}"
        for f in result.findings
        if f.rule == rule and is_failing(f, strict=result.strict)
    ]


@pytest.mark.parametrize("rule", RULES)
def test_contract_rule(contracts_result: RunResult, rule: str) -> None:
    failing = _failing(contracts_result, rule)
    assert not failing, f"{rule}: {len(failing)} finding(s)\n" + "\n".join(failing)


def test_no_transport_trouble(contracts_result: RunResult) -> None:
    failing = [f.message for f in contracts_result.findings if f.kind is Kind.TRANSPORT]
    assert not failing, "\n".join(failing)


def test_no_other_findings(contracts_result: RunResult) -> None:
    other = [
        f"{f.rule}: {f.message}"
        for f in contracts_result.findings
        if f.rule not in RULES and f.kind is not Kind.TRANSPORT and is_failing(f, strict=contracts_result.strict)
    ]
    assert not other, "\n".join(other)
