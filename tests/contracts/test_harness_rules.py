"""The rule table is the harness's one list: each rule names a check that exists, the CLI prints it, and
--dry-run says which rules a plan cannot run and why."""

from __future__ import annotations

import importlib
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from contract_mocks import harness

from contracts import phases, suite
from contracts.cli import main
from contracts.report import render_summary, write_json, write_junit
from contracts.rules import BY_ID, IDS, RULES, Family, Plan, partial_reason, skip_reason, skipped


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_every_rule_names_the_function_that_checks_it(rule: object) -> None:
    module, _, name = rule.check.partition(":")  # type: ignore[attr-defined]
    if module == "schemathesis":
        assert name in phases.BUILTIN_CHECKS
        return
    target: object = importlib.import_module(module)
    for part in name.split("."):
        target = getattr(target, part)
    assert callable(target)


def test_ids_are_unique_and_the_suite_and_phases_read_the_table() -> None:
    assert len(set(IDS)) == len(IDS)
    assert suite.RULES == IDS
    assert tuple(r.id for r in RULES if r.family is Family.SCHEMATHESIS) == phases.BUILTIN_CHECKS


def test_rules_subcommand_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert all(f"`{rule_id}`" in out for rule_id in IDS)
    assert "Not checked, and why" in out


def test_a_small_budget_skips_the_rules_that_need_more_billable_calls() -> None:
    plan = Plan(("lifecycle",), budget=1, receiver=False, secret=False, other_key=False)
    reasons = skipped(plan)
    media = BY_ID["result_media"]

    assert "webhook receiver" in reasons["webhook_body"]
    assert "needs 3 billable call(s) for full coverage, the budget is 1" in (partial_reason(media, plan) or "")
    assert "needs at least 1 billable call (a created task), the budget is 0" in (
        skip_reason(media, replace(plan, budget=0)) or ""
    )
    assert "phase(s)" in reasons["negative_data_rejection"]
    assert "result_download" not in reasons
    assert skip_reason(next(r for r in RULES if r.id == "credits_billed"), plan) is None


def test_dry_run_lists_the_rules_the_plan_cannot_run(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--base-url", "https://api.shuyou.ai", "--dry-run", "--budget", "1", "--phases", "lifecycle"])

    out = capsys.readouterr().out
    assert code == 0
    assert "partly result_media: needs 3 billable call(s) for full coverage, the budget is 1 (--budget)" in out
    assert "skipped webhook_signature: needs a webhook receiver" in out
    assert "skipped negative_data_rejection: phase(s)" in out


def test_the_report_says_per_rule_and_operation_what_ran_and_what_was_skipped_and_why(
    mock_url: str, tmp_path: Path
) -> None:
    result = harness(mock_url, phases=("lifecycle",), webhook_secret=None)
    write_json(result, tmp_path / "report.json")
    write_junit(result, tmp_path / "junit.xml")

    rules = {row["rule"]: row for row in json.loads((tmp_path / "report.json").read_text())["rules"]}
    assert [row for row in rules] == list(IDS)
    assert rules["webhook_signature"]["status"] == "skipped"
    assert "--webhook-secret" in rules["webhook_signature"]["reason"]
    assert rules["not_a_server_error"]["status"] == "skipped"
    assert set(rules["envelope"]["operations"]) == {"createPrediction", "getPrediction", "getCredits"}
    assert rules["result_media"]["operations"]["getPrediction"] == {"run": 3, "failed": 0}
    assert rules["auth_required"]["operations"]["getCredits"]["run"] == 1
    summary = render_summary(result)
    assert "webhook_signature          skipped: needs --webhook-secret" in summary
    assert "credits_billed             getCredits 0/1" in summary
    cases = {case.get("name"): case for case in ET.parse(tmp_path / "junit.xml").getroot()}
    assert cases["webhook_signature"].find("skipped") is not None
    assert cases["envelope"].find("skipped") is None
    properties = {p.get("name"): p.get("value") for p in cases["credits_billed"].iter("property")}
    assert properties == {"getCredits": "0/1 failed/run"}


def test_lengths_and_counts_asked_for_hold_on_the_correct_mock(mock_url: str) -> None:
    models = ("sora-2", "veo-3.1-generate-preview", "gemini-2.5-flash-image", "gemini-3.1-flash-tts-preview")
    result = harness(mock_url, phases=("lifecycle",), models=models)

    assert result.findings == []
    # the two videos, the image (png) and the speech (mp3); the forced failure (a fifth create) has no file
    assert result.rule_runs[("result_duration", "getPrediction")] == 2
    assert result.rule_runs[("output_count", "getPrediction")] == 1
    assert result.rule_runs[("result_format", "getPrediction")] == 2


def test_every_rule_name_the_harness_reports_is_in_the_table() -> None:
    """No rule is named outside the table: each literal handed to a finding or a run count is one of its ids."""
    source = "\n".join(path.read_text(encoding="utf-8") for path in Path(phases.__file__).parent.glob("*.py"))
    calls = re.findall(r'(?:\.ran\(|_finding\(|Finding\(\s*Kind\.\w+,)\s*"(\w+)"', source)
    tuples = re.findall(r"(?:rules \+=|_RULES =) \(([^)]*)\)", source)  # checks.rules_for's counted rules
    named = set(calls) | {name for group in tuples for name in re.findall(r'"(\w+)"', group)}

    assert len(named) > 30
    assert named - set(IDS) == {"transport"}
