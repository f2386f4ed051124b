"""`shuyou-contracts drift run.cassette [--against URL]`: the drift report, as text, JSON and JUnit.

Exit status: 0 no difference, 1 drift, 2 usage error (bad cassette, a target that is not our mock, a mock that
does not start).
"""

from __future__ import annotations

import json
import shlex
import sys
import xml.etree.ElementTree as ET
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.drift import TITLES, Category, Drift, compare
from contracts.spec import load
from openapi.cassette import CassetteError, read_cassette

__all__ = ["DriftReport", "add_drift_command", "render", "write_junit"]


@dataclass(frozen=True, slots=True)
class DriftReport:
    cassette: str
    source: str
    against: str
    exchanges: int
    drift: Drift

    @property
    def exit_code(self) -> int:
        return 1 if self.drift.differences else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "cassette": self.cassette,
            "recorded_from": self.source,
            "against": self.against,
            "exchanges": self.exchanges,
            "differences": [d.as_dict() for d in self.drift.differences],
            "timing": [row.as_dict() for row in self.drift.timing],
            "suggested_config": self.drift.suggestion,
            "exit_code": self.exit_code,
        }


def render(report: DriftReport) -> str:
    """The summary a person reads in 10 seconds: the verdict first, then each group, most important first."""
    differences = report.drift.differences
    lines = [f"== shuyou-contracts drift: {report.cassette} (recorded from {report.source or '?'}) =="]
    lines.append(f"replayed {report.exchanges} exchange(s) on {report.against}")
    groups = [c for c in Category if any(d.category is c for d in differences)]
    if not differences:
        lines.append("NO DRIFT: the recorded answers keep the contract and the mock answers them alike")
    else:
        lines.append(f"DRIFT: {len(differences)} difference(s): " + ", ".join(
            f"{sum(d.category is c for d in differences)} {c.value}" for c in groups
        ))  # fmt: skip
    for category in groups:
        group = [d for d in differences if d.category is category]
        lines.append(f"{TITLES[category]} ({len(group)}):")
        for d in group:
            where = f"  [{', '.join(d.where[:4])}{' ...' if len(d.where) > 4 else ''}]" if d.where else ""
            lines.append(f"  - {d.subject}: {d.message}{where}")
    if report.drift.timing:
        lines.append("Timing profile (seconds after the create: last poll still running - first terminal poll):")
        for row in report.drift.timing:
            mark = "DIFFERS" if row.differs else "same"
            real, mock = _span(row.real), _span(row.mock)
            lines.append(f"  {row.function:<6} {row.model:<32} recorded {real:>10}   mock {mock:>10}   {mark}")
    if report.drift.suggestion:
        lines.append("Config that would make the mock match (YAML for --config; mock seconds at time_scale 1):")
        lines += [f"  {line}" for line in report.drift.suggestion.splitlines()]
    lines.append(f"Result: {'DRIFT' if differences else 'OK'} (exit {report.exit_code})")
    return "\n".join(lines)


def _span(span: tuple[float, float | None]) -> str:
    lo, hi = span
    return f">{lo:.1f}" if hi is None else f"{lo:.1f}-{hi:.1f}"


def write_junit(report: DriftReport, path: Path) -> None:
    """One test case per comparison (category); a failure lists its differences."""
    suite = ET.Element("testsuite", name="shuyou-contracts drift", tests=str(len(Category)))
    failures = 0
    for category in Category:
        case = ET.SubElement(suite, "testcase", classname="drift", name=category.value)
        group = [d for d in report.drift.differences if d.category is category]
        if group:
            failures += 1
            failure = ET.SubElement(case, "failure", message=f"{len(group)} difference(s)", type=category.value)
            failure.text = "\n".join(f"{d.subject}: {d.message}" for d in group)
    suite.set("failures", str(failures))
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def add_drift_command(commands: Any) -> None:
    """`shuyou-contracts drift ...` on the CLI's subparsers."""
    sub = commands.add_parser("drift", help="compare a cassette with the contract, our assumptions and the mock")
    sub.add_argument("cassette", type=Path, help="a cassette written by `record` or `shuyou-mock proxy --record`")
    sub.add_argument("--against", help="a running mock's base URL (default: start one for this run)")
    sub.add_argument("--mock-args", default="", help="extra `shuyou-mock serve` flags for the started mock")
    sub.add_argument("--json", type=Path, help="write the report as JSON")
    sub.add_argument("--junit", type=Path, help="write a JUnit XML report")
    sub.add_argument("--request-timeout", type=float, default=30.0, help="seconds per HTTP request (default 30)")
    sub.set_defaults(handler=_main)


def _main(parser: Any, args: Any, environ: Any) -> int:
    from contracts.replaying import MockNotStarted, replay, started_mock
    from contracts.target import TargetUnreachable

    try:
        cassette = read_cassette(args.cassette)
    except CassetteError as exc:
        print(f"shuyou-contracts: error: {exc}", file=sys.stderr)
        return 2
    spec = load()
    with ExitStack() as stack:
        try:
            if args.against:
                against, label = args.against, args.against
            else:
                against = stack.enter_context(started_mock(shlex.split(args.mock_args)))
                label = f"{against} (a mock started for this run)"
            pairs = replay(cassette, against, timeout=args.request_timeout)
        except (TargetUnreachable, MockNotStarted) as exc:
            print(f"shuyou-contracts: error: {exc}", file=sys.stderr)
            return 2
    report = DriftReport(
        str(args.cassette), str(cassette.header.get("source", "")), label, len(pairs), compare(spec, pairs)
    )
    print(render(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    if args.junit is not None:
        write_junit(report, args.junit)
    return report.exit_code
