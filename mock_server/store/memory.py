"""The default store: dicts in this process (nothing survives the process; one process only)."""

from __future__ import annotations

import itertools
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mock_server.lifecycle import Prediction, Status
from mock_server.store.codec import (
    ANY_TASK,
    OutboxRecord,
    TaskFilter,
    delivery_counts,
    delivery_tally,
    matches_delivery,
    newest_of,
    status_counts,
)

__all__ = ["MemoryStore"]

_EPSILON = 1e-9  # credits are rounded to 10 decimals (pricing.usage_for)


class MemoryStore:
    """Implements `mock_server.store.Store` with dicts; every method is O(1) but `find`/`processing`."""

    multiprocess = False

    def __init__(self, *, journal_limit: int = 10_000) -> None:
        self._journal_limit = journal_limit
        self._tasks: dict[str, Prediction] = {}
        self._usage: dict[str, float] = {}
        self._reserved: dict[str, float] = {}
        self._holds: dict[str, float] = {}  # task id -> credits reserved for it
        self._records: dict[str, dict[str, dict[str, Any]]] = {}
        self._seq = itertools.count(1)
        self._pending: dict[str, tuple[int, dict[str, Any]]] = {}
        self._finished: OrderedDict[str, tuple[int, dict[str, Any]]] = OrderedDict()
        self._meta: dict[str, str] = {}
        self._blocks: dict[str, int] = {}

    # -- tasks ---------------------------------------------------------------------------------------
    def get(self, task_id: str) -> Prediction | None:
        return self._tasks.get(task_id)

    def put(self, prediction: Prediction) -> None:
        self._tasks[prediction.task_id] = prediction

    def find(
        self, where: TaskFilter = ANY_TASK, *, limit: int = 100, within: int | None = None, offset: int = 0
    ) -> list[Prediction]:
        out: list[Prediction] = []
        for p in itertools.islice(reversed(self._tasks.values()), within):
            if where.keeps(p):
                if offset:
                    offset -= 1
                    continue
                out.append(p)
                if len(out) >= limit:
                    break
        return out

    def status_counts(self) -> dict[str, int]:
        return status_counts(Counter(p.status for p in self._tasks.values()).items())

    def processing(self) -> Iterable[Prediction]:
        # Read once, when an app starts on this store (restore): a scan there beats an index kept on every put.
        return [p for p in self._tasks.values() if p.status is Status.PROCESSING]

    def due(self, now: float, limit: int = 1000) -> list[Prediction]:
        found = sorted(
            (p for p in self._tasks.values() if p.status is Status.PROCESSING and p.due_at <= now),
            key=lambda p: p.due_at,
        )
        return found[:limit]

    # -- atomic transitions (one thread, no awaits: atomic by construction) ----------------------------
    def admit(
        self, prediction: Prediction, *, reserve: float, limit: float | None, outbox: Sequence[OutboxRecord] = ()
    ) -> bool:
        key = prediction.key
        if limit is not None:
            left = limit - self._usage.get(key, 0.0) - self._reserved.get(key, 0.0)
            if left <= 0 or left - reserve < -_EPSILON:
                return False
        self._tasks[prediction.task_id] = prediction
        if reserve:
            self._holds[prediction.task_id] = reserve
            self._reserved[key] = self._reserved.get(key, 0.0) + reserve
        for delivery_id, data in outbox:
            self.put_delivery(delivery_id, data)
        return True

    def commit(self, prediction: Prediction, *, charge: float, outbox: Sequence[OutboxRecord] = ()) -> bool:
        key = prediction.key
        current = self._tasks.get(prediction.task_id)
        if current is not None and current.terminal:
            return False
        self._tasks[prediction.task_id] = prediction
        held = self._holds.pop(prediction.task_id, 0.0)
        if held:
            left = self._reserved.get(key, 0.0) - held
            self._reserved[key] = left if left > _EPSILON else 0.0
        if charge:
            self._usage[key] = self._usage.get(key, 0.0) + charge
        for delivery_id, data in outbox:
            self.put_delivery(delivery_id, data)
        return True

    # -- credits -------------------------------------------------------------------------------------
    def add_usage(self, key: str, cost: float) -> float:
        total = self._usage.get(key, 0.0) + cost
        self._usage[key] = total
        return total

    def usage(self, key: str) -> float:
        return self._usage.get(key, 0.0)

    def reserved(self, key: str) -> float:
        return self._reserved.get(key, 0.0)

    def credit_keys(self) -> list[str]:
        return sorted({*self._usage, *self._reserved})

    # -- deliveries ------------------------------------------------------------------------------------
    def put_delivery(self, delivery_id: str, data: Mapping[str, Any]) -> None:
        entry = self._pending.pop(delivery_id, None) or self._finished.pop(delivery_id, None)
        seq = entry[0] if entry else next(self._seq)
        record = dict(data)
        if record.get("status", "pending") == "pending":
            self._pending[delivery_id] = (seq, record)
            return
        self._finished[delivery_id] = (seq, record)
        while len(self._finished) > self._journal_limit:
            self._finished.popitem(last=False)

    def delete_delivery(self, delivery_id: str) -> None:
        self._pending.pop(delivery_id, None)
        self._finished.pop(delivery_id, None)

    def deliveries(self) -> list[dict[str, Any]]:
        entries = sorted([*self._pending.values(), *self._finished.values()], key=lambda e: e[0])
        return [dict(record) for _, record in entries]

    def delivery_counts(self) -> tuple[dict[str, int], int]:
        records = [*self._pending.values(), *self._finished.values()]
        return delivery_counts(delivery_tally(r) for _, r in records)

    def find_deliveries(
        self,
        *,
        task_id: str | None = None,
        status: str | None = None,
        newest: int | None = None,
        skip: int = 0,
    ) -> list[dict[str, Any]]:
        return newest_of([d for d in self.deliveries() if matches_delivery(d, task_id, status)], newest, skip)

    def delivery(self, delivery_id: str) -> dict[str, Any] | None:
        entry = self._pending.get(delivery_id) or self._finished.get(delivery_id)
        return dict(entry[1]) if entry else None

    def pending_deliveries(self) -> list[dict[str, Any]]:
        return [dict(record) for _, record in self._pending.values()]

    def delivery_stream(self) -> None:
        return None  # one process: it holds what it writes

    def beat(self, now: float) -> None:
        pass  # one process: nothing to share

    def reclaim(self, now: float, stale_after: float) -> list[dict[str, Any]]:
        return []

    # -- generic records, ids, meta ----------------------------------------------------------------------
    def put_record(self, kind: str, record_id: str, data: Mapping[str, Any]) -> None:
        self._records.setdefault(kind, {})[record_id] = dict(data)

    def delete_record(self, kind: str, record_id: str) -> None:
        self._records.get(kind, {}).pop(record_id, None)

    def records(self, kind: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self._records.get(kind, {}).values()]

    def next_block(self, name: str, size: int) -> int:
        start = self._blocks.get(name, 0)
        self._blocks[name] = start + size
        return start

    def get_meta(self, name: str) -> str | None:
        return self._meta.get(name)

    def set_meta(self, name: str, value: str) -> None:
        self._meta[name] = value

    def reset(self) -> None:
        for table in (self._tasks, self._usage, self._reserved, self._holds, self._records, self._blocks):
            table.clear()
        self._pending.clear()
        self._finished.clear()

    def close(self) -> None:
        pass
