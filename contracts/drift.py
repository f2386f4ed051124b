"""Drift: where recorded answers of a ShuYou endpoint differ from the contract, our assumptions and the mock.

Input: the recorded exchanges of a cassette, each paired with the mock's answer to the same request replayed
at the same time on the mock's clock (`contracts.replaying`). Output: `Difference`s, most important first:

1. `contract` / `assumption`: a recorded answer breaks the documented contract, or one of our guesses (an
   `x-assumption` element, named): the harness's own checks (`checks.check_exchange`), the same split as `run`;
2. `status`, `envelope`, `types`, `enum`, `fields`, `headers`: the recorded answer and the mock's differ in
   status code, top-level envelope, the JSON type of a field, the values of a spec enum, the field set, or a
   documented header. By shape, not value: answers are compared per kind (operation, status, task_status);
3. `timing`: a task's status changed at a different poll on the mock than in the recording, with the
   `durations:` / rules lines that would make the mock match.

Pure: no I/O.
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts.checks import NOT_JSON, Exchange, check_exchange
from contracts.findings import Kind, dedupe
from contracts.shape import documented_headers, enum_paths, fields
from contracts.spec import ContractSpec
from contracts.tasks import TaskBook
from openapi.cassette import Exchange as Recorded

__all__ = ["TITLES", "Category", "Difference", "Drift", "Pair", "TimingRow", "compare", "suggestion"]


class Category(enum.StrEnum):
    CONTRACT = "contract"
    STATUS = "status"
    ENVELOPE = "envelope"
    TYPES = "types"
    ENUM = "enum"
    FIELDS = "fields"
    HEADERS = "headers"
    TIMING = "timing"
    ASSUMPTION = "assumption"


TITLES: dict[Category, str] = {
    Category.CONTRACT: "Recorded answers break the documented contract",
    Category.STATUS: "Status codes differ (recorded vs mock)",
    Category.ENVELOPE: "Envelopes differ",
    Category.TYPES: "Field types differ",
    Category.ENUM: "Enum values differ",
    Category.FIELDS: "Field sets differ",
    Category.HEADERS: "Headers differ",
    Category.TIMING: "Processing times differ",
    Category.ASSUMPTION: "Recorded answers contradict an assumption (x-assumption)",
}


@dataclass(frozen=True, slots=True)
class Difference:
    category: Category
    subject: str
    message: str
    where: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"category": self.category.value, "subject": self.subject, "message": self.message, "where": self.where}


@dataclass(frozen=True, slots=True)
class TimingRow:
    """One task's processing time: the recorded and the mock's, as (last poll not terminal, first terminal poll]."""

    function: str
    model: str
    real: tuple[float, float | None]
    mock: tuple[float, float | None]
    real_poll: int | None
    mock_poll: int | None

    @property
    def differs(self) -> bool:
        return self.real_poll != self.mock_poll

    @property
    def estimate(self) -> float | None:
        lo, hi = self.real
        return None if hi is None else round((lo + hi) / 2, 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "model": self.model,
            "real_seconds": list(self.real),
            "mock_seconds": list(self.mock),
            "estimate": self.estimate,
            "differs": self.differs,
        }


Pair = tuple[Recorded, Recorded | None]


@dataclass(slots=True)
class Drift:
    differences: list[Difference] = field(default_factory=list)
    timing: list[TimingRow] = field(default_factory=list)
    suggestion: str = ""


def compare(spec: ContractSpec, pairs: Sequence[Pair]) -> Drift:
    """Every difference between the recorded answers, the spec and the mock's answers to the same requests."""
    out = Drift()
    out.differences += _findings(spec, [recorded for recorded, _ in pairs])
    both = [(r, m) for r, m in pairs if m is not None]
    out.differences += _statuses(both)
    out.differences += _shapes(spec, both)
    out.differences += _enums(spec, both)
    out.differences += _headers(spec, both)
    out.timing = _timing(spec, both)
    for row in out.timing:
        if row.differs:
            out.differences.append(Difference(Category.TIMING, row.function, _timing_message(row), (row.model,)))
    out.suggestion = suggestion(out.timing)
    order = list(Category)
    out.differences.sort(key=lambda d: (order.index(d.category), d.subject))
    return out


# -- 1. the recorded answers against the contract ---------------------------------------------------------------
def _findings(spec: ContractSpec, recorded: Iterable[Recorded]) -> list[Difference]:
    book, found = TaskBook(), []
    for ex in recorded:
        if ex.operation not in spec.operations:
            continue
        body = ex.response_body if isinstance(ex.response_body, dict | list) else NOT_JSON
        if ex.operation == "createPrediction" and ex.task and isinstance(ex.request_body, dict):
            model = ex.request_body.get("model")
            model = model if isinstance(model, str) else None
            book.created(ex.task, model=model, function=spec.models.get(model or ""))
        exchange = Exchange(ex.operation, ex.status, ex.response_headers, body, ex.request_body, ex.task)
        found += check_exchange(spec, exchange, book)
    # One difference per broken rule and message (an assumption: per rule and x-assumption), with where it was seen.
    groups: dict[tuple[Category, str, str], tuple[str, set[str]]] = {}
    for finding in dedupe(found):
        assumed = finding.kind is Kind.ASSUMPTION
        category = Category.ASSUMPTION if assumed else Category.CONTRACT
        reason = finding.message.rpartition("[x-assumption: ")[2] if assumed else finding.message
        status = f" {finding.status_code}" if finding.status_code else ""
        _, where = groups.setdefault((category, finding.rule, reason), (finding.message, set()))
        where.add(f"{finding.operation}{status}")
    return [Difference(c, rule, first, tuple(sorted(where))) for (c, rule, _), (first, where) in groups.items()]


# -- 2. recorded vs mock, by shape ----------------------------------------------------------------------------
def _label(ex: Recorded) -> str:
    return f"{ex.operation or ex.method + ' ' + ex.path} {ex.status}"


def _merge(found: dict[tuple[Category, str, str], set[str]]) -> list[Difference]:
    return [Difference(c, s, m, tuple(sorted(where))) for (c, s, m), where in found.items()]


def _statuses(pairs: Sequence[tuple[Recorded, Recorded]]) -> list[Difference]:
    found: dict[tuple[Category, str, str], set[str]] = {}
    for real, mock in pairs:
        if real.status != mock.status:
            subject = real.operation or f"{real.method} {real.path}"
            message = f"{subject}: the recorded answer is {real.status}, the mock answers {mock.status}"
            if mock.status == 0:
                message = f"{real.name or subject}: recorded ({real.status}), but the mock's task has no such output"
            found.setdefault((Category.STATUS, subject, message), set()).add(real.name or subject)
    return _merge(found)


def _kind(ex: Recorded) -> tuple[str, int, str]:
    body = ex.response_body
    data = body.get("data") if isinstance(body, dict) else None
    status = data.get("task_status") if isinstance(data, dict) else None
    return (ex.operation, ex.status, status if isinstance(status, str) else "")


def _field_types(exchanges: Iterable[Recorded]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for ex in exchanges:
        for path, kind, _ in fields(ex.response_body if isinstance(ex.response_body, dict | list) else None):
            out.setdefault(path, set()).add(kind)
    return out


def _shapes(spec: ContractSpec, pairs: Sequence[tuple[Recorded, Recorded]]) -> list[Difference]:
    real_by: dict[tuple[str, int, str], list[Recorded]] = {}
    mock_by: dict[tuple[str, int, str], list[Recorded]] = {}
    for real, mock in pairs:
        if real.file is None and mock.file is None:
            real_by.setdefault(_kind(real), []).append(real)
            mock_by.setdefault(_kind(mock), []).append(mock)
    found: dict[tuple[Category, str, str], set[str]] = {}
    for key in sorted(set(real_by) & set(mock_by)):
        seen, sent = _field_types(real_by[key]), _field_types(mock_by[key])
        where = " ".join(str(part) for part in key if part != "")
        for path in sorted(set(seen) | set(sent)):
            category = Category.ENVELOPE if path.count("/") == 1 else Category.FIELDS
            if path not in sent:
                message = f"({'/'.join(sorted(seen[path]))}) is in recorded answers; the mock never sends it"
            elif path not in seen:
                message = f"({'/'.join(sorted(sent[path]))}) comes from the mock; recorded answers never have it"
            elif seen[path] != sent[path]:
                category = Category.TYPES
                message = (
                    f"is {'/'.join(sorted(seen[path]))} in recorded answers, "
                    f"{'/'.join(sorted(sent[path]))} from the mock"
                )
            else:
                continue
            found.setdefault((category, path, message), set()).add(where)
    return _merge(found)


def _enums(spec: ContractSpec, pairs: Sequence[tuple[Recorded, Recorded]]) -> list[Difference]:
    values: dict[tuple[str, int, str], tuple[set[str], set[str]]] = {}
    for real, mock in pairs:
        if real.status != mock.status:
            continue
        paths = enum_paths(spec, real.operation, real.status)
        for side, ex in enumerate((real, mock)):
            body = ex.response_body if isinstance(ex.response_body, dict | list) else None
            for path, kind, value in fields(body):
                if path in paths and kind == "string":
                    values.setdefault((real.operation, real.status, path), (set(), set()))[side].add(value)
    by_path: dict[str, tuple[set[str], set[str], set[str]]] = {}
    for (operation, status, path), (seen, sent) in sorted(values.items()):
        if not seen or not sent or seen == sent:
            continue  # no string on one side: a `types` difference already
        only_real, only_mock, where = by_path.setdefault(path, (set(), set(), set()))
        only_real |= seen - sent
        only_mock |= sent - seen
        where.add(f"{operation} {status}")
    out = []
    for path, (only_real, only_mock, where) in by_path.items():
        parts = [f"recorded answers take {sorted(only_real)}, never seen from the mock"] if only_real else []
        parts += [f"the mock answers {sorted(only_mock)} there instead"] if only_mock else []
        out.append(Difference(Category.ENUM, path, "; ".join(parts), tuple(sorted(where))))
    return out


def _media(headers: Any) -> str:
    return str(headers.get("content-type", "")).split(";")[0].strip().lower()


def _headers(spec: ContractSpec, pairs: Sequence[tuple[Recorded, Recorded]]) -> list[Difference]:
    found: dict[tuple[Category, str, str], set[str]] = {}
    for real, mock in pairs:
        if real.status != mock.status:
            continue
        names = documented_headers(spec, real.operation, real.status) or ("content-type",)
        for name in names:
            has_real, has_mock = name in real.response_headers, name in mock.response_headers
            if has_real and has_mock and name == "content-type":
                a, b = _media(real.response_headers), _media(mock.response_headers)
                if a != b:
                    message = f"is {a} in recorded answers, {b} from the mock"
                    found.setdefault((Category.HEADERS, name, message), set()).add(_label(real))
            elif has_real != has_mock:
                shown = _display(spec, name)
                message = (
                    "is missing from recorded answers (the mock sends it)"
                    if has_mock
                    else "is in recorded answers; the mock does not send it"
                )
                found.setdefault((Category.HEADERS, shown, message), set()).add(_label(real))
    return _merge(found)


def _display(spec: ContractSpec, name: str) -> str:
    for op in spec.operations:
        for status in spec.documented_statuses(op):
            response = spec.response(op, int(status)) if status.isdigit() else None
            for header in (response or {}).get("headers") or {}:
                if header.lower() == name:
                    return str(header)
    return name


# -- 3. timing ------------------------------------------------------------------------------------------------
def _timing(spec: ContractSpec, pairs: Sequence[tuple[Recorded, Recorded]]) -> list[TimingRow]:
    tasks: dict[str, list[tuple[Recorded, Recorded]]] = {}
    model_of: dict[str, str] = {}
    for real, mock in pairs:
        if not real.task:
            continue
        if real.operation == "createPrediction" and isinstance(real.request_body, dict):
            model_of[real.task] = str(real.request_body.get("model"))
        if real.operation == "getPrediction" and real.status == 200 and real.elapsed is not None:
            tasks.setdefault(real.task, []).append((real, mock))
    rows = []
    for task, polls in tasks.items():
        model = model_of.get(task, "")
        if model not in spec.models:
            continue
        recorded = _interval(spec, [r for r, _ in polls])
        replayed = _interval(spec, [m for _, m in polls], [r.elapsed or 0.0 for r, _ in polls])
        rows.append(TimingRow(spec.models[model], model, recorded[:2], replayed[:2], recorded[2], replayed[2]))
    return sorted(rows, key=lambda row: (row.function, row.model))


def _interval(
    spec: ContractSpec, polls: Sequence[Recorded], times: Sequence[float] | None = None
) -> tuple[float, float | None, int | None]:
    """(last elapsed not terminal, first elapsed terminal or None, index of that poll or None)."""
    lo = 0.0
    for index, ex in enumerate(polls):
        at = times[index] if times is not None else (ex.elapsed or 0.0)
        if _kind(ex)[2] in spec.terminal:
            return lo, at, index
        lo = at
    return lo, None, None


def _span(lo: float, hi: float | None) -> str:
    return f"still running after {lo:.1f} s" if hi is None else f"between {lo:.1f} and {hi:.1f} s"


def _timing_message(row: TimingRow) -> str:
    return f"{row.model}: the recorded task finished {_span(*row.real)} after the create, the mock {_span(*row.mock)}"


def suggestion(rows: Sequence[TimingRow]) -> str:
    """The config lines (mock seconds at time_scale 1) that would make the mock's durations match the recording."""
    drifting = [row for row in rows if row.differs and row.estimate is not None]
    if not drifting:
        return ""
    by_function: dict[str, list[TimingRow]] = {}
    for row in rows:
        if row.estimate is not None:
            by_function.setdefault(row.function, []).append(row)
    lines, rules = ["durations:"], []
    for function in sorted({row.function for row in drifting}):
        estimates = [row.estimate for row in by_function[function] if row.estimate is not None]
        middle = round(statistics.median(estimates), 1)
        lines.append(f"  {function}: {middle:g}")
        for row in by_function[function]:
            if row.estimate is not None and abs(row.estimate - middle) > 0.25 * max(middle, 1.0):
                rules.append(
                    f"  - name: drift-{row.model}\n    match: {{model: {row.model}}}\n    duration: {row.estimate:g}"
                )
    if rules:
        lines += ["rules:", *rules]
    return "\n".join(lines)
