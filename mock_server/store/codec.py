"""The one record codec: a `Prediction` to and from the JSON-able mapping every backend stores.

Rules: pure. `dumps`/`loads` are the only JSON (de)serialisers the backends use, so a record written by
one backend reads back the same from any other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from mock_server.lifecycle import OutputFile, Prediction, Status, TaskError, Usage

__all__ = [
    "OutboxRecord",
    "dumps",
    "loads",
    "prediction_from_json",
    "prediction_from_record",
    "prediction_to_json",
    "prediction_to_record",
]

OutboxRecord = tuple[str, Mapping[str, Any]]
"""A delivery record to write with a transition: (delivery id, its stored form)."""

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def dumps(data: Mapping[str, Any]) -> str:
    return _encode(dict(data))


def loads(text: str | bytes) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"stored record {str(text)[:60]!r}: expected a JSON object")
    return value


def prediction_to_record(p: Prediction) -> dict[str, Any]:
    record = asdict(p)
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
