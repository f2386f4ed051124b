"""The one record codec: a `Prediction` to and from the JSON-able mapping every backend stores.

Rules: pure. `dumps`/`loads` are the only JSON (de)serialisers the backends use, so a record written by
one backend reads back the same from any other.

`dumps` is orjson's (as `wire.dumps`), falling back to the stdlib encoder for what orjson refuses (an int
beyond 64 bits, a lone surrogate): a task's record 3.3 vs 8.3 us (this module's `prediction_to_json`, one
core, 5,000 calls, 2026-12-02 07:40 UTC, load 1.2), paid on every create and settle on Redis and SQLite.
orjson writes a non-finite float (only an input number beyond float range, such as 1e400, can be one) as
null, as every response body already renders it. `loads` stays the stdlib's: it also reads the NaN and
Infinity an older record may hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import orjson

from mock_server.lifecycle import OutputFile, Prediction, Status, TaskError, Usage

__all__ = [
    "ANY_TASK",
    "OutboxRecord",
    "Tally",
    "TaskFilter",
    "delivery_counts",
    "delivery_tally",
    "dumps",
    "dumps_row",
    "loads",
    "loads_row",
    "matches_delivery",
    "newest_of",
    "prediction_from_json",
    "prediction_from_record",
    "prediction_to_json",
    "prediction_to_record",
    "status_counts",
]

T = TypeVar("T")
OutboxRecord = tuple[str, Mapping[str, Any]]
"""A delivery record to write with a transition: (delivery id, its stored form)."""

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def dumps(data: Mapping[str, Any]) -> str:
    try:
        return orjson.dumps(data if type(data) is dict else dict(data), option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return _encode(dict(data))


def loads(text: str | bytes) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"stored record {str(text)[:60]!r}: expected a JSON object")
    return value


def dumps_row(row: Sequence[Any]) -> str:
    """A flat row of JSON values (a request journal entry) as a JSON array; what orjson refuses (a lone surrogate)
    as ASCII JSON, escaped, so that every store can write the text (SQLite's UTF-8 cannot hold a surrogate)."""
    try:
        return orjson.dumps(tuple(row)).decode()
    except TypeError:
        return json.dumps(list(row), separators=(",", ":"))


def loads_row(text: str | bytes) -> list[Any]:
    value = json.loads(text)
    if not isinstance(value, list):
        raise ValueError(f"stored row {str(text)[:60]!r}: expected a JSON array")
    return value


def status_counts(counted: Iterable[tuple[str, int]] = ()) -> dict[str, int]:
    """`Store.status_counts()`'s answer: every status with 0, plus the (status, count) pairs given, summed."""
    counts = dict.fromkeys(map(str, Status), 0)
    for status, count in counted:
        counts[str(status)] += int(count)
    return counts


Tally = tuple[str, int, str]
"""What the shared stores keep beside a delivery record (`delivery_tally`): its status, attempts and task id."""


def delivery_tally(record: Mapping[str, Any]) -> Tally:
    """A delivery record's tally: what /metrics counts and a listing filters on, without the record."""
    return str(record.get("status", "pending")), len(record.get("attempts") or ()), str(record.get("task_id", ""))


def delivery_counts(tallies: Iterable[Tally]) -> tuple[dict[str, int], int]:
    """`Store.delivery_counts()`'s answer from tallies: deliveries by status, and retries (the attempts after each
    delivery's first)."""
    counts: dict[str, int] = {}
    retries = 0
    for status, attempts, _ in tallies:
        counts[status] = counts.get(status, 0) + 1
        retries += max(0, attempts - 1)
    return counts, retries


def newest_of(items: Sequence[T], newest: int | None, skip: int = 0) -> list[T]:
    """`find_deliveries`' window of a list in insertion order: its newest `newest` (all if None), less the newest
    `skip`."""
    first = max(0, len(items) - newest) if newest is not None else 0
    return list(items[first : max(first, len(items) - skip)])


def matches_delivery(record: Mapping[str, Any], task_id: str | None, status: str | None) -> bool:
    """Whether a delivery record passes `Store.find_deliveries`'s filters."""
    return (task_id is None or record.get("task_id") == task_id) and (
        status is None or record.get("status", "pending") == status
    )


_FIELDS = tuple(f.name for f in fields(Prediction))
_OUTPUT_FIELDS = tuple(f.name for f in fields(OutputFile))
_USAGE_FIELDS = tuple(f.name for f in fields(Usage))


def prediction_to_record(p: Prediction) -> dict[str, Any]:
    """The fields by name, nested records as dicts (values shared, not copied: the record is encoded at once).

    Not `dataclasses.asdict`, which deep-copies: 82 us per task against 14 us here (2026-12-02, machine
    shared with other work), on every create and settle of the Redis and SQLite stores.
    """
    record = {name: getattr(p, name) for name in _FIELDS}
    record["outputs"] = [{name: getattr(o, name) for name in _OUTPUT_FIELDS} for o in p.outputs]
    record["usage"] = None if p.usage is None else {name: getattr(p.usage, name) for name in _USAGE_FIELDS}
    record["error"] = None if p.error is None else {"code": p.error.code, "message": p.error.message}
    record["status"] = str(p.status)
    record["outcome"] = str(p.outcome)
    record["history"] = [list(h) for h in p.history]
    return record


def prediction_from_record(r: Mapping[str, Any]) -> Prediction:
    return Prediction(
        task_id=r["task_id"],
        key=r["key"],
        model=r["model"],
        function=r["function"],
        created_at=r["created_at"],
        due_at=r["due_at"],
        outcome=Status(r["outcome"]),
        status=Status(r["status"]),
        finished_at=r.get("finished_at"),
        input=dict(r.get("input") or {}),
        webhook=r.get("webhook"),
        base_url=r.get("base_url", ""),
        outputs=tuple(OutputFile(**o) for o in r.get("outputs") or ()),
        usage=Usage(**r["usage"]) if r.get("usage") else None,
        error=TaskError(**r["error"]) if r.get("error") else None,
        seed=r.get("seed", 0),
        history=tuple((float(t), str(s)) for t, s in r.get("history") or ()),
        webhook_chaos=r.get("webhook_chaos"),
    )


def prediction_to_json(p: Prediction) -> str:
    return dumps(prediction_to_record(p))


def prediction_from_json(text: str | bytes) -> Prediction:
    return prediction_from_record(loads(text))


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """What `Store.find` keeps: a task whose every field given here matches (None matches anything)."""

    key: str | None = None
    status: str | None = None
    model: str | None = None
    function: str | None = None
    key_suffix: str | None = None  # the key's last characters

    @property
    def plain(self) -> bool:
        """True when it keeps every task."""
        return self == ANY_TASK

    def keeps(self, p: Prediction | dict[str, Any]) -> bool:
        """The filter, for the backends that scan (memory, redis, a replay), on a task or its stored record."""
        if isinstance(p, dict):  # not Mapping: an ABC check costs more than the rest of the filter
            task_key, task_status, task_model, task_function = (
                p.get("key"),
                p.get("status"),
                p.get("model"),
                p.get("function"),
            )
        else:  # attributes: the memory store scans tasks by the ten thousand (the inspector's filters)
            task_key, task_status, task_model, task_function = p.key, p.status, p.model, p.function
        return (
            (self.key is None or task_key == self.key)
            and (self.status is None or task_status == self.status)
            and (self.model is None or task_model == self.model)
            and (self.function is None or task_function == self.function)
            and (self.key_suffix is None or str(task_key).endswith(self.key_suffix))
        )


ANY_TASK = TaskFilter()
