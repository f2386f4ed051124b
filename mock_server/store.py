"""Where tasks, per-key usage and other components' records live: one small `Store` protocol.

`MemoryStore` is the default; `SqliteStore` (`sqlite:///path.db`) keeps everything across a restart.
The protocol is narrow on purpose (get/put by id, a few filters, counters, generic records) so that
a networked store could implement it. Records are plain JSON-able mappings grouped by `kind`; the
webhook dispatcher keeps its pending deliveries there (`put_delivery` / `pending_deliveries`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any, Protocol

from mock_server.errors import SettingsError
from mock_server.lifecycle import OutputFile, Prediction, Status, TaskError, Usage

__all__ = ["MemoryStore", "Store", "open_store", "prediction_from_record", "prediction_to_record"]

DELIVERIES = "webhook_delivery"


class Store(Protocol):
    def get(self, task_id: str) -> Prediction | None: ...
    def put(self, prediction: Prediction) -> None: ...
    def find(
        self, *, key: str | None = None, status: str | None = None, model: str | None = None, limit: int = 100
    ) -> list[Prediction]: ...
    def processing(self) -> Iterable[Prediction]: ...
    def add_usage(self, key: str, cost: float) -> float: ...
    def usage(self, key: str) -> float: ...
    def put_record(self, kind: str, record_id: str, data: Mapping[str, Any]) -> None: ...
    def delete_record(self, kind: str, record_id: str) -> None: ...
    def records(self, kind: str) -> list[dict[str, Any]]: ...
    def put_delivery(self, delivery_id: str, data: Mapping[str, Any]) -> None: ...
    def delete_delivery(self, delivery_id: str) -> None: ...
    def pending_deliveries(self) -> list[dict[str, Any]]: ...
    def reset(self) -> None: ...
    def close(self) -> None: ...


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


class _Deliveries:
    """The webhook dispatcher's view of the generic records."""

    def put_record(self, kind: str, record_id: str, data: Mapping[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    def delete_record(self, kind: str, record_id: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def records(self, kind: str) -> list[dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def put_delivery(self, delivery_id: str, data: Mapping[str, Any]) -> None:
        """Persist (insert or replace) a pending delivery."""
        self.put_record(DELIVERIES, delivery_id, data)

    def delete_delivery(self, delivery_id: str) -> None:
        """Forget a delivery that is done (acknowledged or exhausted)."""
        self.delete_record(DELIVERIES, delivery_id)

    def pending_deliveries(self) -> list[dict[str, Any]]:
        """Persisted deliveries whose `status` is `pending` (or unset), in insertion order."""
        return [r for r in self.records(DELIVERIES) if r.get("status", "pending") == "pending"]


class MemoryStore(_Deliveries):
    """The default store: dicts in this process."""

    def __init__(self) -> None:
        self._tasks: dict[str, Prediction] = {}
        self._usage: dict[str, float] = {}
        self._records: dict[str, dict[str, dict[str, Any]]] = {}

    def get(self, task_id: str) -> Prediction | None:
        return self._tasks.get(task_id)

    def put(self, prediction: Prediction) -> None:
        self._tasks[prediction.task_id] = prediction

    def find(
        self, *, key: str | None = None, status: str | None = None, model: str | None = None, limit: int = 100
    ) -> list[Prediction]:
        out: list[Prediction] = []
        for p in reversed(self._tasks.values()):
            if (
                (key is None or p.key == key)
                and (status is None or p.status == status)
                and (model is None or p.model == model)
            ):
                out.append(p)
                if len(out) >= limit:
                    break
        return out

    def processing(self) -> Iterable[Prediction]:
        # Read once, when an app starts on this store (restore): a scan there beats an index kept on every put.
        return [p for p in self._tasks.values() if p.status is Status.PROCESSING]

    def add_usage(self, key: str, cost: float) -> float:
        total = self._usage.get(key, 0.0) + cost
        self._usage[key] = total
        return total

    def usage(self, key: str) -> float:
        return self._usage.get(key, 0.0)

    def put_record(self, kind: str, record_id: str, data: Mapping[str, Any]) -> None:
        self._records.setdefault(kind, {})[record_id] = dict(data)

    def delete_record(self, kind: str, record_id: str) -> None:
        self._records.get(kind, {}).pop(record_id, None)

    def records(self, kind: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self._records.get(kind, {}).values()]

    def reset(self) -> None:
        self._tasks.clear()
        self._usage.clear()
        self._records.clear()

    def close(self) -> None:
        pass


def open_store(url: str) -> Store:
    """`memory` or `sqlite:///path.db`."""
    if url == "memory":
        return MemoryStore()
    if url.startswith("sqlite:///"):
        from mock_server.sqlite_store import SqliteStore

        return SqliteStore(url.removeprefix("sqlite:///"))
    raise SettingsError(f"store={url!r}: use 'memory' or 'sqlite:///path/to/file.db'")
