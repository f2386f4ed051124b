"""The run's memory of tasks it created: model, function, key and every status observed, in order."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TaskBook", "TaskRecord"]


@dataclass(slots=True)
class TaskRecord:
    task_id: str
    model: str | None
    function: str | None
    key_tag: str
    statuses: list[str] = field(default_factory=list)
    last_body: dict[str, Any] | None = None


class TaskBook:
    """Thread-safe: schemathesis workers, the lifecycle poller and the webhook receiver share one book."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskRecord] = {}

    def created(self, task_id: str, *, model: str | None, function: str | None, key_tag: str = "") -> None:
        with self._lock:
            self._tasks.setdefault(task_id, TaskRecord(task_id, model, function, key_tag))

    def get(self, task_id: str) -> TaskRecord | None:
        with self._lock:
            return self._tasks.get(task_id)

    def observe(self, task_id: str, status: str, body: dict[str, Any]) -> list[str]:
        """Record a polled status; return the statuses seen before this one."""
        with self._lock:
            record = self._tasks.setdefault(task_id, TaskRecord(task_id, None, None, ""))
            before = list(record.statuses)
            record.statuses.append(status)
            record.last_body = body
            return before

    def all(self) -> list[TaskRecord]:
        with self._lock:
            return list(self._tasks.values())
