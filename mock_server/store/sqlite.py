"""The SQLite store: one file that survives a restart and that several worker processes may share.

Every write is one transaction (`BEGIN IMMEDIATE`, so a read-check-write such as `admit()` holds the
write lock from its first read); WAL with `synchronous=NORMAL` loses nothing committed when a process is
killed (only an OS crash may lose the last commits). Insertion order is an AUTOINCREMENT rowid, which
SQLite never hands out twice, so order survives restarts and is shared by processes.

A database SQLite cannot use (locked by another writer past the busy timeout, a disk I/O error, a full disk, a
read-only or vanished file) is `StoreUnavailable` from every method, a 503 in the envelope, as an unreachable
Redis is; the same process serves again once SQLite does. The busy timeout is `sqlite:///path.db?timeout=S`
(5 s by default, as Redis's socket timeout): a call blocks the event loop while it waits, so it stays short.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from mock_server.errors import SettingsError, StoreUnavailable
from mock_server.lifecycle import Prediction, Status
from mock_server.store.codec import (
    ANY_TASK,
    OutboxRecord,
    TaskFilter,
    delivery_tally,
    dumps,
    dumps_row,
    loads,
    loads_row,
    prediction_from_json,
    prediction_to_json,
    status_counts,
)

__all__ = ["SqliteStore", "sqlite_options"]

_EPSILON = 1e-9
DEFAULT_TIMEOUT = 5.0
"""Seconds a write waits for another connection's lock before it is `StoreUnavailable` (`?timeout=`)."""


def sqlite_options(url: str) -> tuple[str, float]:
    """(file path, busy timeout) of `sqlite:///path.db[?timeout=S]`; a SettingsError names anything else."""
    path, _, query = url.removeprefix("sqlite:///").partition("?")
    timeout = DEFAULT_TIMEOUT
    for name, values in urllib.parse.parse_qs(query, keep_blank_values=True).items():
        if name != "timeout":
            raise SettingsError(f"store={url!r}: unknown option {name!r}; a sqlite store takes ?timeout=SECONDS")
        try:
            timeout = float(values[-1])
        except ValueError:
            timeout = -1.0
        if not 0 <= timeout <= 3600:
            raise SettingsError(f"store={url!r}: timeout must be a number of seconds from 0 to 3600")
    if not path:
        raise SettingsError(f"store={url!r}: no file path; use sqlite:///path/to/file.db")
    return path, timeout


_SCHEMA = """
CREATE TABLE IF NOT EXISTS task (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL UNIQUE, key TEXT NOT NULL, model TEXT NOT NULL,
    status TEXT NOT NULL, due REAL NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS task_status ON task (status, due);
CREATE TABLE IF NOT EXISTS credit (key TEXT PRIMARY KEY, used REAL NOT NULL DEFAULT 0, held REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS hold (task_id TEXT PRIMARY KEY, key TEXT NOT NULL, amount REAL NOT NULL);
CREATE TABLE IF NOT EXISTS delivery (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, fin INTEGER, owner TEXT, body TEXT NOT NULL,
    status TEXT, attempts INTEGER, task TEXT);
CREATE TABLE IF NOT EXISTS beat (owner TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS delivery_fin ON delivery (fin);
CREATE TABLE IF NOT EXISTS record (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
    UNIQUE (kind, id));
CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS request (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
"""


class SqliteStore:
    """Implements `mock_server.store.Store` on one SQLite file (one connection per store, guarded by a lock)."""

    multiprocess = True

    def __init__(self, path: str, *, journal_limit: int = 10_000, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._journal_limit = journal_limit
        self.owner = secrets.token_hex(8)
        self.name = f"sqlite:///{path}"
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=timeout)
        except sqlite3.Error as exc:  # at startup: a settings error naming the file, not a traceback
            raise SettingsError(f"store={self.name!r}: SQLite cannot use it ({exc})") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._add_columns("delivery", {"status": "TEXT", "attempts": "INTEGER", "task": "TEXT"})
            self._db.execute("CREATE INDEX IF NOT EXISTS delivery_tally ON delivery (status, attempts)")
            self._db.execute("CREATE INDEX IF NOT EXISTS delivery_task ON delivery (task)")
            self._db.execute(  # rows of an earlier version, once: from their JSON
                "UPDATE delivery SET status = coalesce(json_extract(body, '$.status'), 'pending'), "
                "attempts = coalesce(json_array_length(body, '$.attempts'), 0), "
                "task = coalesce(json_extract(body, '$.task_id'), '') WHERE status IS NULL OR task IS NULL"
            )
        except sqlite3.Error as exc:  # opened but unusable (not a database, read-only): closed, not leaked
            self._db.close()
            raise SettingsError(f"store={self.name!r}: SQLite cannot use it ({exc})") from None

    def _add_columns(self, table: str, columns: Mapping[str, str]) -> None:
        """Columns a file written by an earlier version lacks (their values NULL in its rows); another process
        adding them first is fine."""
        have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
        for name, kind in columns.items():
            if name not in have:
                try:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):
                        raise

    @contextmanager
    def _using(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; SQLite's operational errors (locked, I/O, full, read-only) as 503s."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(self.name, str(exc).rstrip(".")) from exc

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._using() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                if db.in_transaction:
                    db.execute("COMMIT")
            except BaseException:  # a failed COMMIT too: else every later BEGIN fails, and the store never recovers
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        with self._using() as db:
            row = db.execute(sql, args).fetchone()
        return row[0] if row else None

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._using() as db:
            return db.execute(sql, args).fetchall()

    # -- tasks ---------------------------------------------------------------------------------------
    def get(self, task_id: str) -> Prediction | None:
        body = self._one("SELECT body FROM task WHERE task_id = ?", (task_id,))
        return prediction_from_json(body) if body is not None else None

    @staticmethod
    def _put(db: sqlite3.Connection, p: Prediction) -> None:
        db.execute(
            "INSERT INTO task (task_id, key, model, status, due, body) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (task_id) DO UPDATE SET status = excluded.status, body = excluded.body",
            (p.task_id, p.key, p.model, str(p.status), p.due_at, prediction_to_json(p)),
        )

    def put(self, prediction: Prediction) -> None:
        with self._tx() as db:
            self._put(db, prediction)

    def find(
        self, where: TaskFilter = ANY_TASK, *, limit: int = 100, within: int | None = None, offset: int = 0
    ) -> list[Prediction]:
        clauses: list[str] = []
        args: list[Any] = []
        for column, value in (("key", where.key), ("status", where.status), ("model", where.model)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if where.function is not None:  # not a column: SQLite's JSON function reads it, in C
            clauses.append("json_extract(body, '$.function') = ?")
            args.append(where.function)
        if where.key_suffix is not None:
            clauses.append("substr(key, ?) = ?")  # a negative start: the last characters
            args += [-len(where.key_suffix), where.key_suffix]
        among = "task" if within is None else f"(SELECT * FROM task ORDER BY seq DESC LIMIT {int(within)})"
        sql = f"SELECT body FROM {among}" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        rows = self._all(sql + " ORDER BY seq DESC LIMIT ? OFFSET ?", (*args, limit, offset))
        return [prediction_from_json(r[0]) for r in rows]

    def status_counts(self) -> dict[str, int]:
        return status_counts(self._all("SELECT status, COUNT(*) FROM task GROUP BY status"))

    def processing(self) -> Iterable[Prediction]:
        rows = self._all("SELECT body FROM task WHERE status = ?", (str(Status.PROCESSING),))
        return [prediction_from_json(r[0]) for r in rows]

    def due(self, now: float, limit: int = 1000) -> list[Prediction]:
        rows = self._all(
            "SELECT body FROM task WHERE status = ? AND due <= ? ORDER BY due LIMIT ?",
            (str(Status.PROCESSING), now, limit),
        )
        return [prediction_from_json(r[0]) for r in rows]

    # -- atomic transitions ----------------------------------------------------------------------------
    def admit(
        self, prediction: Prediction, *, reserve: float, limit: float | None, outbox: Sequence[OutboxRecord] = ()
    ) -> bool:
        key = prediction.key
        with self._tx() as db:
            if limit is not None:
                row = db.execute("SELECT used + held FROM credit WHERE key = ?", (key,)).fetchone()
                left = limit - (float(row[0]) if row else 0.0)
                if left <= 0 or left - reserve < -_EPSILON:
                    return False
            self._put(db, prediction)
            if reserve:
                db.execute(
                    "INSERT INTO hold (task_id, key, amount) VALUES (?, ?, ?)", (prediction.task_id, key, reserve)
                )
                db.execute(
                    "INSERT INTO credit (key, held) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET held = held + ?",
                    (key, reserve, reserve),
                )
            for delivery_id, data in outbox:
                self._put_delivery(db, delivery_id, data)
        return True

    def commit(self, prediction: Prediction, *, charge: float, outbox: Sequence[OutboxRecord] = ()) -> bool:
        key = prediction.key
        with self._tx() as db:
            row = db.execute("SELECT status FROM task WHERE task_id = ?", (prediction.task_id,)).fetchone()
            if row is not None and row[0] != Status.PROCESSING:
                return False  # settled already (by another process)
            self._put(db, prediction)
            row = db.execute("DELETE FROM hold WHERE task_id = ? RETURNING amount", (prediction.task_id,)).fetchone()
            held = float(row[0]) if row else 0.0
            if held or charge:
                db.execute(
                    "INSERT INTO credit (key, used) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                    "used = used + ?, held = MAX(0.0, held - ?)",
                    (key, charge, charge, held),
                )
            for delivery_id, data in outbox:
                self._put_delivery(db, delivery_id, data)
        return True

    # -- credits -------------------------------------------------------------------------------------
    def add_usage(self, key: str, cost: float) -> float:
        with self._tx() as db:
            row = db.execute(
                "INSERT INTO credit (key, used) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET used = used + ? "
                "RETURNING used",
                (key, cost, cost),
            ).fetchone()
        return float(row[0])

    def usage(self, key: str) -> float:
        value = self._one("SELECT used FROM credit WHERE key = ?", (key,))
        return float(value) if value is not None else 0.0

    def reserved(self, key: str) -> float:
        value = self._one("SELECT held FROM credit WHERE key = ?", (key,))
        return float(value) if value is not None else 0.0

    def credit_keys(self) -> list[str]:
        return [str(r[0]) for r in self._all("SELECT key FROM credit ORDER BY key")]

    # -- deliveries ------------------------------------------------------------------------------------
    def _put_delivery(self, db: sqlite3.Connection, delivery_id: str, data: Mapping[str, Any]) -> None:
        fin: int | None = None
        if data.get("status", "pending") != "pending":
            fin = self._bump(db, "delivery_fin", 1) + 1
        db.execute(
            "INSERT INTO delivery (id, fin, owner, body, status, attempts, task) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET fin = excluded.fin, owner = excluded.owner, body = excluded.body, "
            "status = excluded.status, attempts = excluded.attempts, task = excluded.task",
            (
                delivery_id,
                fin,
                None if fin is not None else self.owner,
                dumps(data),
                *delivery_tally(data),
            ),
        )
        if fin is not None and fin > self._journal_limit:  # keep the newest `journal_limit` finished ones
            db.execute("DELETE FROM delivery WHERE fin <= ?", (fin - self._journal_limit,))

    def put_delivery(self, delivery_id: str, data: Mapping[str, Any]) -> None:
        with self._tx() as db:
            self._put_delivery(db, delivery_id, data)

    def delete_delivery(self, delivery_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM delivery WHERE id = ?", (delivery_id,))

    def deliveries(self) -> list[dict[str, Any]]:
        rows = self._all("SELECT body FROM delivery ORDER BY seq")
        return [loads(r[0]) for r in rows]

    def delivery_counts(self) -> tuple[dict[str, int], int]:
        """Counted by SQLite from the `status` and `attempts` columns `_put_delivery` writes beside each record,
        in their covering index: no record is read. With 12,000 pending deliveries (~1 KB each, 2026-12-04):
        reading and decoding them all 250 ms; SQLite's JSON functions over them 60 ms; the columns without the
        index 35-42 ms (a scan of the wide rows); with it ~2 ms."""
        rows = self._all(
            "SELECT status, count(*), sum(max(attempts - 1, 0)) FROM delivery INDEXED BY delivery_tally GROUP BY status"
        )
        return {str(status): int(n) for status, n, _ in rows}, sum(int(again) for _, _, again in rows)

    def find_deliveries(
        self,
        *,
        task_id: str | None = None,
        status: str | None = None,
        newest: int | None = None,
        skip: int = 0,
    ) -> list[dict[str, Any]]:
        """By the `task` and `status` columns' indexes; the newest `newest` read (newest first), then put in order."""
        where = [(column, value) for column, value in (("task", task_id), ("status", status)) if value is not None]
        sql = " AND ".join(f"{column} = ?" for column, _ in where) or "1"  # an index is used only without OR
        rows = self._all(
            f"SELECT body FROM delivery WHERE {sql} ORDER BY seq DESC LIMIT ? OFFSET ?",
            (*(value for _, value in where), -1 if newest is None else max(0, newest - skip), skip),
        )
        return [loads(r[0]) for r in reversed(rows)]

    def delivery(self, delivery_id: str) -> dict[str, Any] | None:
        body = self._one("SELECT body FROM delivery WHERE id = ?", (delivery_id,))
        return loads(body) if body is not None else None

    def pending_deliveries(self) -> list[dict[str, Any]]:
        rows = self._all("SELECT body FROM delivery WHERE fin IS NULL ORDER BY seq")
        return [loads(r[0]) for r in rows]

    def delivery_stream(self) -> None:
        return None  # a process holds the deliveries it writes (`owner`), until `reclaim()` by another

    def beat(self, now: float) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO beat (owner, at) VALUES (?, ?) ON CONFLICT (owner) DO UPDATE SET at = excluded.at",
                (self.owner, now),
            )

    def reclaim(self, now: float, stale_after: float) -> list[dict[str, Any]]:
        with self._tx() as db:
            db.execute("DELETE FROM beat WHERE at < ? AND owner != ?", (now - stale_after, self.owner))
            rows = db.execute(
                "UPDATE delivery SET owner = ? WHERE fin IS NULL AND (owner IS NULL OR owner NOT IN "
                "(SELECT owner FROM beat UNION SELECT ?)) RETURNING seq, body",
                (self.owner, self.owner),
            ).fetchall()
        return [loads(body) for _, body in sorted(rows)]

    # -- the shared request journal (SharedJournal) -------------------------------------------------------
    def add_requests(self, rows: Sequence[Sequence[Any]], limit: int) -> None:
        if not rows:
            return
        with self._tx() as db:
            first = self._bump(db, "seq:requests", len(rows)) + 1
            db.executemany(
                "INSERT INTO request (seq, body) VALUES (?, ?)", [(first + i, dumps_row(r)) for i, r in enumerate(rows)]
            )
            db.execute("DELETE FROM request WHERE seq <= ?", (first + len(rows) - 1 - limit,))

    def requests(self) -> list[tuple[Any, ...]]:
        return [(seq, *loads_row(body)) for seq, body in self._all("SELECT seq, body FROM request ORDER BY seq")]

    def serve_flushes(self, flush: Callable[[], None]) -> None:
        return None  # each process's sweep adds its rows before its heartbeat (`Peers._collect`): that answers

    def request_flush(self, now: float, alive_within: float) -> Callable[[], bool]:
        """Done when every other process seen within `alive_within` s has beaten since `now`: a sweep adds its
        rows before it beats, and the beat's time is taken before both, so such a beat comes after its rows."""
        alive = self._all("SELECT owner FROM beat WHERE owner != ? AND at >= ?", (self.owner, now - alive_within))
        others = [owner for (owner,) in alive]
        if not others:
            return lambda: True
        marks = ",".join("?" * len(others))
        sql = f"SELECT COUNT(*) FROM beat WHERE at >= ? AND owner IN ({marks})"
        return lambda: int(self._one(sql, (now, *others)) or 0) >= len(others)

    # -- generic records, ids, meta ----------------------------------------------------------------------
    def put_record(self, kind: str, record_id: str, data: Mapping[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO record (kind, id, body) VALUES (?, ?, ?) "
                "ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body",
                (kind, record_id, dumps(data)),
            )

    def delete_record(self, kind: str, record_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM record WHERE kind = ? AND id = ?", (kind, record_id))

    def records(self, kind: str) -> list[dict[str, Any]]:
        rows = self._all("SELECT body FROM record WHERE kind = ? ORDER BY seq", (kind,))
        return [loads(r[0]) for r in rows]

    @staticmethod
    def _bump(db: sqlite3.Connection, name: str, size: int) -> int:
        """Advance counter `name` by `size`; return its value before."""
        row = db.execute(
            "INSERT INTO counter (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + ? "
            "RETURNING value",
            (name, size, size),
        ).fetchone()
        return int(row[0]) - size

    def next_block(self, name: str, size: int) -> int:
        with self._tx() as db:
            return self._bump(db, f"block:{name}", size)

    def get_meta(self, name: str) -> str | None:
        value = self._one("SELECT value FROM meta WHERE name = ?", (name,))
        return None if value is None else str(value)

    def set_meta(self, name: str, value: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    def reset(self) -> None:
        with self._tx() as db:
            for table in ("task", "credit", "hold", "delivery", "record", "counter", "request"):  # meta stays
                db.execute(f"DELETE FROM {table}")

    def close(self) -> None:
        with self._lock:
            self._db.close()
