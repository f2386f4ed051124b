"""docs/contract-harness.md carries the rule table generated from contracts.rules and must be current."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from contracts.rules import NOT_CHECKED, RULES

ROOT = Path(__file__).resolve().parents[2]


def test_the_rule_table_in_the_harness_page_is_current(docs_script: Callable[[str], ModuleType]) -> None:
    actual = (ROOT / "docs" / "contract-harness.md").read_text(encoding="utf-8")
    assert actual == docs_script("gen_rules").render(), (
        "docs/contract-harness.md is stale: run `python docs/gen_rules.py`"
    )


def test_every_rule_and_every_unchecked_statement_is_on_the_page() -> None:
    page = (ROOT / "docs" / "contract-harness.md").read_text(encoding="utf-8")
    assert all(f"| `{rule.id}` |" in page for rule in RULES)
    assert all(item.statement in page for item in NOT_CHECKED)
