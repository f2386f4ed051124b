"""The end of a run: the readable summary, the JSON report and the JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.findings import KIND_TITLES, Finding, Kind, is_failing
from contracts.rules import BY_ID, RULES

__all__ = ["RunResult", "render_summary", "write_json", "write_junit"]


@dataclass(slots=True)
class RunResult:
    base_url: str
    is_mock: bool
    seed: int
    strict: bool
    budget_limit: int | None
    budget_spent: int
    budget_refused: int
    statuses: Counter[tuple[str, int]]
    checks_run: Counter[str]
    checks_failed: Counter[str]
    findings: list[Finding]
    timings: dict[str, float] = field(default_factory=dict)
    lifecycle: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    command: str = ""
    rule_runs: Counter[tuple[str, str]] = field(default_factory=Counter)  # (rule, operation) -> checks run
    rule_fails: Counter[tuple[str, str]] = field(default_factory=Counter)
    skipped: dict[str, str] = field(default_factory=dict)  # rule -> why it could not run

    def rule_status(self, rule: str) -> tuple[str, str]:
        """("ran" | "skipped" | "not exercised", reason) for a rule of the table."""
        if any(name == rule for name, _ in self.rule_runs):
            return "ran", ""
        if rule in self.skipped:
            return "skipped", self.skipped[rule]
        if any(finding.rule == rule for finding in self.findings):
            return "ran", ""
        when = BY_ID[rule].only_when if rule in BY_ID else ""
        return "not exercised", when or "no exchange of this run reached it (more examples, or another seed)"

    def rules_report(self) -> list[dict[str, Any]]:
        out = []
        for rule in RULES:
            status, reason = self.rule_status(rule.id)
            operations = {
                op: {"run": n, "failed": self.rule_fails.get((name, op), 0)}
                for (name, op), n in sorted(self.rule_runs.items())
                if name == rule.id
            }
            idle = [op for op in rule.operations if op not in operations] if status == "ran" else []
            row = {"rule": rule.id, "status": status, "reason": reason, "operations": operations}
            out.append(row | {"not_exercised_on": idle})
        return out

    @property
    def failing(self) -> list[Finding]:
        return [finding for finding in self.findings if is_failing(finding, strict=self.strict)]

    @property
    def exit_code(self) -> int:
        return 1 if self.failing else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "target_is_mock": self.is_mock,
            "seed": self.seed,
            "strict": self.strict,
            "reproduce": self.command,
            "budget": {"limit": self.budget_limit, "spent": self.budget_spent, "refused": self.budget_refused},
            "statuses": [{"operation": op, "status": st, "count": n} for (op, st), n in sorted(self.statuses.items())],
            "checks": {
                name: {"run": n, "failed": self.checks_failed.get(name, 0)} for name, n in self.checks_run.items()
            },
            "timings": {name: round(seconds, 3) for name, seconds in self.timings.items()},
            "rules": self.rules_report(),
            "lifecycle": self.lifecycle,
            "findings": [finding.as_dict() for finding in self.findings],
            "notes": self.notes,
            "exit_code": self.exit_code,
        }


def render_summary(result: RunResult) -> str:
    lines = [f"== shuyou-contracts: {result.base_url} ({'our mock' if result.is_mock else 'not the mock'}) =="]
    lines.append("Operations x status codes:")
    operations = sorted({op for op, _ in result.statuses})
    for op in operations:
        cells = ", ".join(f"{st}x{n}" for (o, st), n in sorted(result.statuses.items()) if o == op)
        lines.append(f"  {op:<32} {cells}")
    lines.append("Rules (failed/run per operation):")
    for row in result.rules_report():
        if row["status"] == "ran":
            cells = ", ".join(f"{op or '-'} {c['failed']}/{c['run']}" for op, c in row["operations"].items())
            idle = f" (not exercised on {', '.join(row['not_exercised_on'])})" if row["not_exercised_on"] else ""
            lines.append(f"  {row['rule']:<26} {cells or 'ran'}{idle}")
        else:
            lines.append(f"  {row['rule']:<26} {row['status']}: {row['reason']}")
    if result.lifecycle:
        lines.append("Lifecycle:")
        for task in result.lifecycle:
            statuses = task.get("statuses") or []
            runs = [str(status) for i, status in enumerate(statuses) if i == 0 or status != statuses[i - 1]]
            trail = " -> ".join(runs) if runs else "-"
            note = f"  ({task['note']})" if task.get("note") else ""
            lines.append(f"  {task['model']} ({task['function']}): {trail} in {len(statuses)} poll(s){note}")
    limit = "unlimited" if result.budget_limit is None else str(result.budget_limit)
    lines.append(f"Budget: {result.budget_spent} billable call(s) accepted of {limit}; {result.budget_refused} refused")
    if result.timings:
        lines.append("Time: " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result.timings.items()))
    for note in result.notes:
        lines.append(f"Note: {note}")
    if not result.findings:
        lines.append("Findings: none")
    for kind in Kind:
        group = [finding for finding in result.findings if finding.kind is kind]
        if not group:
            continue
        fails = "fails the run" if is_failing(group[0], strict=result.strict) else "reported, not failed (--strict)"
        lines.append(f"{KIND_TITLES[kind]}: {len(group)} ({fails})")
        by_rule: dict[tuple[str, str], list[Finding]] = {}
        for finding in group:
            by_rule.setdefault((finding.rule, finding.operation), []).append(finding)
        for (rule, operation), same in by_rule.items():
            first = same[0]
            status = f"[{first.status_code}] " if first.status_code else ""
            more = f" (and {len(same) - 1} more like it)" if len(same) > 1 else ""
            lines.append(f"  - {rule}: {operation + ' ' if operation else ''}{status}{first.message}{more}")
    lines.append(f"Seed: {result.seed}  (reproduce: {result.command})")
    lines.append(f"Result: {'FAIL' if result.exit_code else 'OK'} ({len(result.failing)} failing finding(s))")
    return "\n".join(lines)


def write_json(result: RunResult, path: Path) -> None:
    path.write_text(json.dumps(result.as_dict(), indent=2, sort_keys=False) + "\n", encoding="utf-8")


def write_junit(result: RunResult, path: Path) -> None:
    """One test case per check that ran (and per rule that produced a finding), failures for failing findings."""
    table = [rule.id for rule in RULES]
    names = table + sorted((set(result.checks_run) | {finding.rule for finding in result.findings}) - set(table))
    suite = ET.Element("testsuite", name="shuyou-contracts", tests=str(len(names)))
    failures = skips = 0
    for name in names:
        case = ET.SubElement(suite, "testcase", classname="contracts", name=name)
        status, reason = result.rule_status(name) if name in table else ("ran", "")
        if status != "ran":
            skips += 1
            ET.SubElement(case, "skipped", message=f"{status}: {reason}")
            continue
        properties = ET.SubElement(case, "properties")
        for (rule, operation), count in sorted(result.rule_runs.items()):
            if rule == name:
                failed = result.rule_fails.get((rule, operation), 0)
                ET.SubElement(properties, "property", name=operation or "-", value=f"{failed}/{count} failed/run")
        mine = [finding for finding in result.findings if finding.rule == name]
        failing = [finding for finding in mine if is_failing(finding, strict=result.strict)]
        if failing:
            failures += 1
            failure = ET.SubElement(case, "failure", message=f"{len(failing)} finding(s)", type=failing[0].kind.value)
            failure.text = "\n".join(f"{f.kind.value}: {f.operation} {f.message}" for f in failing)
        elif mine:
            ET.SubElement(case, "system-out").text = "\n".join(f"{f.kind.value}: {f.message}" for f in mine)
    suite.set("failures", str(failures))
    suite.set("skipped", str(skips))
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
