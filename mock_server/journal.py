"""The journal: a bounded record of requests and responses, plus every server-side error.

Tests query it (`calls_to(path)`, `requests(...)`) and call `check()` to re-raise, in the test thread,
the first error a handler or a background callback hit.

On a store several processes share (`--workers N`, several hosts on one Redis: `store.SharedJournal`) the
entries are also added to one journal in the store, bounded to the same size: each process adds its new ones
in its sweep (every 0.25 s, `Peers.run`), off the request path, and a list first asks every other process to
add what it has not yet (`Peers.gather_journal`), so `GET /_mock/requests` on any process lists every request
answered before it, whichever process answered it (and a restart keeps them). What stays per process: the
server-side `errors`, and the request and response bodies the inspector shows (`inspector.capture.BodyLog`).
"""

from __future__ import annotations

import collections
import itertools
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, Protocol

from mock_server.errors import StoreUnavailable

__all__ = ["Journal", "JournalEntry", "mask_key"]


def mask_key(key: str) -> str:
    """An API key as served (journal, tasks, inspector): its last 4 characters, never more than half of it."""
    shown = min(4, len(key) // 2)
    return "…" + key[len(key) - shown :]


class JournalEntry(NamedTuple):
    """One request; a NamedTuple because one is built per request (cheaper than a frozen dataclass)."""

    seq: int
    time: float
    method: str
    path: str
    query: str
    status: int
    key: str | None
    request_id: str
    duration_ms: float
    task_id: str | None = None
    error_type: str | None = None
    error_message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The served form: the key masked (`mask_key`); the entry itself keeps it whole for filters."""
        out = self._asdict()
        if self.key is not None:
            out["key"] = mask_key(self.key)
        return out


_entry = JournalEntry._make


class _Shared(Protocol):
    """What this module uses of `store.SharedJournal` (not imported: the pure `inspector.views` imports this
    module, and `mock_server.store` opens the stores' drivers)."""

    def add_requests(self, rows: Sequence[Sequence[Any]], limit: int) -> None: ...
    def requests(self) -> list[tuple[Any, ...]]: ...
    def serve_flushes(self, flush: Callable[[], None]) -> None: ...


class Journal:
    """Keeps the last `size` requests and every server-side error."""

    def __init__(self, size: int = 1000) -> None:
        # Plain tuples in JournalEntry's field order, made JournalEntries when read: the NamedTuple's constructor
        # is a Python call, ~1,500 instructions of a GET's ~176,000 (callgrind, 2026-12-02).
        self._entries: collections.deque[tuple[Any, ...]] = collections.deque(maxlen=size)
        self._seq = itertools.count(1)
        self._first_error: BaseException | None = None  # what check() raises; the texts keep the last 100
        self._error_texts: collections.deque[str] = collections.deque(maxlen=100)
        self._shared: _Shared | None = None
        self._flushed = 0  # the seq of the last entry added to the shared journal
        self._flush_lock = threading.Lock()  # the sweep and (Redis) the listener thread both flush

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter([_entry(t) for t in self._entries])

    def add(
        self,
        time: float,
        method: str,
        path: str,
        query: str,
        status: int,
        key: str | None,
        request_id: str,
        duration_ms: float,
        task_id: str | None,
        error_type: str | None,
        error_message: str | None,
    ) -> None:
        """One request's entry, the fields in order: the middleware's call per request (no keyword dict to build
        and unpack: 1.2 vs 2.6 us per entry, timeit, 2026-12-02)."""
        self._entries.append(
            (next(self._seq), time, method, path, query, status, key, request_id, duration_ms, task_id, error_type,
             error_message)
        )  # fmt: skip

    def requests(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        key: str | None = None,
        limit: int = 100,
        among: Iterable[JournalEntry] | None = None,
    ) -> list[JournalEntry]:
        """This process's entries (or those `among`, newest first: `current()`'s), newest first, filtered; `key`
        matches the whole key or its masked form (what the inspector shows)."""
        out: list[JournalEntry] = []
        for e in among if among is not None else (_entry(t) for t in reversed(self._entries)):
            if (
                (method is None or e.method == method)
                and (path is None or e.path.startswith(path))
                and (status is None or e.status == status)
                and (key is None or (e.key is not None and key in (e.key, mask_key(e.key))))
            ):
                out.append(e)
                if len(out) >= limit:
                    break
        return out

    # -- shared between processes -------------------------------------------------------------------
    def share(self, store: _Shared) -> None:
        """Keep the entries in `store` too, for every process that shares it (see the module docstring)."""
        self._shared = store
        store.serve_flushes(self.flush)

    @property
    def shared(self) -> bool:
        """True if `current()` reads a store (which may take up to the store's timeout: not on the event loop)."""
        return self._shared is not None

    def flush(self) -> None:
        """Add this process's entries not in the shared journal yet to it (`StoreUnavailable`: the next one will)."""
        store = self._shared
        if store is None:
            return
        with self._flush_lock:
            entries = self._entries
            if not entries or entries[-1][0] <= self._flushed:  # nothing new (an idle sweep): no copy
                return
            new = [t for t in list(entries) if t[0] > self._flushed]  # list(): a snapshot, atomic
            store.add_requests([t[1:] for t in new], entries.maxlen or len(new))
            self._flushed = new[-1][0]

    def current(self) -> list[JournalEntry]:
        """Every entry, newest first: on a shared store, what every process has added so far (this one's after
        adding its own); else, or while that store is unreachable, this process's (an outage's 503s included)."""
        store = self._shared
        if store is not None:
            try:
                self.flush()
                rows = store.requests()
            except StoreUnavailable:
                pass
            else:
                return [_entry(r) for r in sorted(rows, key=lambda r: (r[1], r[0]), reverse=True)]  # time, seq
        return [_entry(t) for t in reversed(list(self._entries))]

    def calls_to(self, path: str) -> list[JournalEntry]:
        """Every journaled request whose path starts with `path`, oldest first."""
        return [_entry(t) for t in self._entries if t[3].startswith(path)]

    def error(self, exc: BaseException) -> None:
        """Record a server-side error (a 500 or a failing background callback)."""
        if self._first_error is None:
            self._first_error = exc
        self._error_texts.append("".join(traceback.format_exception(exc)))

    @property
    def errors(self) -> list[str]:
        return list(self._error_texts)

    def check(self) -> None:
        """Re-raise the first recorded server-side error, then forget it."""
        first, self._first_error = self._first_error, None
        if first is not None:
            raise first

    def clear(self) -> None:
        """Forget the entries (and on a shared store, mark them added: a reset forgets the store's)."""
        with self._flush_lock:
            self._flushed = max(self._flushed, self._entries[-1][0] if self._entries else 0)
            self._entries.clear()
        self._first_error = None
        self._error_texts.clear()
