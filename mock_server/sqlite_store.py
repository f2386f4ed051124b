"""The SQLite store: the same interface as `MemoryStore`, kept in one file across restarts."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from mock_server.lifecycle import Prediction, Status
from mock_server.store import _Deliveries, prediction_from_record, prediction_to_record

__all__ = ["SqliteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY, key TEXT NOT NULL, model TEXT NOT NULL, status TEXT NOT NULL,
    seq INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tasks_status ON tasks (status);
CREATE TABLE IF NOT EXISTS usage (key TEXT PRIMARY KEY, total REAL NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id));
"""


class SqliteStore(_Deliveries):
    """Tasks, usage and records in a SQLite file (WAL, one connection guarded by a lock)."""

    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM tasks").fetchone()
        self._seq = int(row[0])

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def get(self, task_id: str) -> Prediction | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        return prediction_from_record(json.loads(row[0])) if row else None

    def put(self, prediction: Prediction) -> None:
        body = json.dumps(prediction_to_record(prediction), separators=(",", ":"))
        with self._lock:
            self._db.execute(
                "INSERT INTO tasks (task_id, key, model, status, seq, body) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (task_id) DO UPDATE SET status = excluded.status, body = excluded.body",
                (prediction.task_id, prediction.key, prediction.model, str(prediction.status), self._next(), body),
            )

    def find(
        self, *, key: str | None = None, status: str | None = None, model: str | None = None, limit: int = 100
    ) -> list[Prediction]:
        where, args = [], []
        for column, value in (("key", key), ("status", status), ("model", model)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT body FROM tasks" + (" WHERE " + " AND ".join(where) if where else "")
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit)).fetchall()
        return [prediction_from_record(json.loads(r[0])) for r in rows]

    def processing(self) -> Iterable[Prediction]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM tasks WHERE status = ?", (str(Status.PROCESSING),)).fetchall()
        return [prediction_from_record(json.loads(r[0])) for r in rows]

    def add_usage(self, key: str, cost: float) -> float:
        with self._lock:
            self._db.execute(
                "INSERT INTO usage (key, total) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET total = total + ?",
                (key, cost, cost),
            )
            row = self._db.execute("SELECT total FROM usage WHERE key = ?", (key,)).fetchone()
        return float(row[0])

    def usage(self, key: str) -> float:
        with self._lock:
            row = self._db.execute("SELECT total FROM usage WHERE key = ?", (key,)).fetchone()
        return float(row[0]) if row else 0.0

    def put_record(self, kind: str, record_id: str, data: Mapping[str, Any]) -> None:
        body = json.dumps(dict(data), separators=(",", ":"))
        with self._lock:
            self._db.execute(
                "INSERT INTO records (kind, id, seq, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body",
                (kind, record_id, self._next(), body),
            )

    def delete_record(self, kind: str, record_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM records WHERE kind = ? AND id = ?", (kind, record_id))

    def records(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM records WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def reset(self) -> None:
        with self._lock:
            self._db.executescript("DELETE FROM tasks; DELETE FROM usage; DELETE FROM records;")

    def close(self) -> None:
        with self._lock:
            self._db.close()
