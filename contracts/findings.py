"""What the harness reports: one `Finding` per broken rule, classified by `Kind`.

- `contract`: the target broke what the documentation (and so the spec) says.
- `assumption`: the target differs from one of our guesses, an element marked `x-assumption` in the spec;
  reported, and fails the run only under `--strict`.
- `transport`: timeouts, resets, refused connections; says nothing about the contract.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["KIND_TITLES", "Finding", "FindingSink", "Kind", "dedupe", "is_failing"]


class Kind(enum.StrEnum):
    CONTRACT = "contract"
    ASSUMPTION = "assumption"
    TRANSPORT = "transport"


KIND_TITLES: dict[Kind, str] = {
    Kind.CONTRACT: "Contract broken",
    Kind.ASSUMPTION: "Differs from an assumption (x-assumption)",
    Kind.TRANSPORT: "Transport trouble",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule, seen on one exchange (or one task)."""

    kind: Kind
    rule: str
    message: str
    operation: str = ""
    task_id: str | None = None
    status_code: int | None = None
    source: str = "harness"

    def key(self) -> tuple[str, str, str, str]:
        """Identity used to de-duplicate the same finding seen on many exchanges."""
        return (self.kind.value, self.rule, self.operation, self.message)

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "rule": self.rule,
            "message": self.message,
            "operation": self.operation,
            "task_id": self.task_id,
            "status_code": self.status_code,
            "source": self.source,
        }


def is_failing(finding: Finding, *, strict: bool) -> bool:
    """Whether `finding` fails the run: contract and transport always, assumptions only when strict."""
    return finding.kind is not Kind.ASSUMPTION or strict


def dedupe(findings: Iterable[Finding]) -> list[Finding]:
    seen: dict[tuple[str, str, str, str], Finding] = {}
    for finding in findings:
        seen.setdefault(finding.key(), finding)
    return list(seen.values())


class FindingSink:
    """Thread-safe collector of findings and of how many times each check ran."""

    def __init__(self) -> None:
        import threading
        from collections import Counter

        self._lock = threading.Lock()
        self._findings: list[Finding] = []
        self.checks_run: Counter[str] = Counter()
        self.checks_failed: Counter[str] = Counter()
        self.runs: Counter[tuple[str, str]] = Counter()  # (check, operation)
        self.fails: Counter[tuple[str, str]] = Counter()

    def ran(self, check: str, *, failed: bool = False, operation: str = "") -> None:
        with self._lock:
            self.checks_run[check] += 1
            self.runs[(check, operation)] += 1
            if failed:
                self.checks_failed[check] += 1
                self.fails[(check, operation)] += 1

    def add(self, findings: Iterable[Finding]) -> None:
        with self._lock:
            self._findings.extend(findings)

    def findings(self) -> list[Finding]:
        with self._lock:
            return dedupe(self._findings)
