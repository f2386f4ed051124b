"""The contract checks as pytest tests (collected with `pytest --pyargs contracts.suite`, see pytest_plugin).

One test per rule of the table (`contracts.rules`): it fails with the findings of that rule that fail the run
(assumption differences only under --contracts-strict), and is skipped, with the reason, when the run could
not check it. Needs the `contracts` plugin (installed with the package, pytest11).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from contracts.findings import Kind, is_failing
from contracts.rules import IDS

if TYPE_CHECKING:
    from contracts.report import RunResult

__all__ = ["RULES", "test_contract_rule", "test_no_other_findings", "test_no_transport_trouble"]

RULES = IDS


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
    status, reason = contracts_result.rule_status(rule)
    if status == "skipped":
        pytest.skip(f"{rule}: {reason}")


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
