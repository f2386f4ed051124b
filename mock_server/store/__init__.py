"""Where tasks, credits, ids, the clock offset and webhook deliveries live: one `Store` protocol, three backends.

`memory` (the default: dicts in this process), `sqlite:///path.db` (one file, survives a restart) and
`redis://host:port/db` (shared by many processes and hosts). `open_store()` is the only code that knows
the backends; each backend imports only `codec`, never this module, so there is no import cycle.

Rules:
- A task's transitions are written with everything that depends on them in ONE call, hence one
  transaction (transactional outbox): `admit()` writes a new task and its credit reservation (and its
  `processing` webhook records, if any); `commit()` writes a terminal task, releases its reservation,
  adds its charge to the key's usage and writes its webhook delivery records. A crash leaves all or none.
- Delivery records are upserted by id (`put_delivery`); a finished one (`status` other than `pending`)
  stays as the delivery journal, bounded to `journal_limit` records, the oldest finished evicted first.
  `deliveries()` returns them in insertion order, across restarts.
- `next_block(name, size)` hands out id ranges that are never handed out again by this store (ids stay
  unique across restarts and processes); `get_meta`/`set_meta` keep small values such as the clock offset.
- A pending delivery is held by one live process, which alone sends it. Memory and SQLite: the process
  that wrote it; Redis: the one that read it from `delivery_stream()`. `beat()` keeps what a process
  holds; `reclaim()` hands what a process not seen for `stale_after` s held to the caller, once.
- A store whose round trips the requests in flight can share (Redis, `redis_batch`) also has the
  `BatchedRequests` methods, awaited on the request path only; everything else stays synchronous.
- A store that can be out of reach (Redis; SQLite locked, full or failing) raises `errors.StoreUnavailable`
  (503) from any method when it is, within its timeout, and serves again once it answers: Redis's connection
  and timeout errors and SQLite's `OperationalError` leave it only as that.
- A store several processes share (SQLite, Redis) also has the `SharedJournal` methods: every process adds its
  request journal entries to one bounded journal there, so any of them can list every process's requests.
- `reset()` forgets tasks, credits, deliveries, records and id blocks (the control surface's reset), so
  seeded ids start over as from a fresh store; meta values stay, as the clock does not go back on reset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from mock_server.errors import SettingsError
from mock_server.lifecycle import Prediction
from mock_server.store.codec import ANY_TASK, OutboxRecord, TaskFilter

__all__ = [
    "ANY_TASK",
    "STORE_URLS",
    "BatchedRequests",
    "DeliveryStream",
    "OutboxRecord",
    "SharedJournal",
    "Store",
    "TaskFilter",
    "open_store",
]

STORE_URLS = "'memory', 'sqlite:///path/to/file.db' or 'redis://host:port/db'"


class DeliveryStream(Protocol):
    """A store's shared outbox as one process's consumer sees it (async: it runs on the dispatcher's loop)."""

    async def read(self, count: int, block_ms: int) -> list[dict[str, Any]]:
        """Records of up to `count` deliveries no process holds yet, now held by this one (waits `block_ms`)."""
        ...

    async def save(self, records: Sequence[OutboxRecord]) -> None:
        """Write records of held deliveries at once; a finished one stops being held."""
        ...

    async def orphans(self) -> list[dict[str, Any]]:
        """Records of deliveries this process holds in the store without knowing it (a reply lost in an outage may
        have taken some); usually none, at no cost."""
        ...

    def took(self, delivery_id: str) -> bool:
        """True (once) if this process's own write of the delivery took it at once: held now, as if read."""
        ...

    def taken(self) -> list[dict[str, Any]]:
        """Records of deliveries written by others that this process's writes took at once, since the last call."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class BatchedRequests(Protocol):
    """`Store.get`, `admit` and `commit` as the request path and the due-task timer await them where a round trip
    is shared (Redis): `commit_many_async` commits each (prediction, charge, outbox) and says which wrote."""

    async def get_async(self, task_id: str) -> Prediction | None: ...
    async def admit_async(
        self, prediction: Prediction, *, reserve: float, limit: float | None, outbox: Sequence[OutboxRecord] = ()
    ) -> bool: ...
    async def get_many_async(self, task_ids: Sequence[str]) -> list[Prediction | None]: ...
    async def used_async(self, key: str) -> float:
        """`usage(key) + reserved(key)`."""
        ...

    async def take_token_async(self, key: str, capacity: float, rate: float, now: float) -> float: ...
    async def commit_many_async(
        self, commits: Sequence[tuple[Prediction, float, Sequence[OutboxRecord]]]
    ) -> list[bool]: ...
    async def ping_async(self) -> None:
        """Return once the store answers (StoreUnavailable if it does not), without blocking the event loop."""
        ...


@runtime_checkable
class SharedJournal(Protocol):
    """The request journal of every process on a shared store (`journal.Journal.share`).

    Each process adds the entries it answered (`add_requests`, in its sweep); a process that lists them first asks
    every other one to add what it has not yet (`request_flush`) and waits until they have, so a list shows every
    request answered before it was asked for, whichever process answered it. A `reset()` forgets them.
    """

    def add_requests(self, rows: Sequence[Sequence[Any]], limit: int) -> None:
        """Append journal rows (an entry's fields after its `seq`), numbered after every row added before, by any
        process; keep the newest `limit`."""
        ...

    def requests(self) -> list[tuple[Any, ...]]:
        """The rows kept, each `(seq, *fields)`, in the order they were added."""
        ...

    def serve_flushes(self, flush: Callable[[], None]) -> None:
        """How this process answers another's `request_flush`: `flush()` adds its rows (Redis: its listener thread
        calls it, then acknowledges; SQLite: the sweep adds them before its heartbeat, which is the answer)."""
        ...

    def request_flush(self, now: float, alive_within: float) -> Callable[[], bool]:
        """Ask every live process (seen within `alive_within` s of wall time `now`) to add its rows; the
        function returned tells whether all of them have."""
        ...


class Store(Protocol):
    # -- tasks --------------------------------------------------------------------------------------
    def get(self, task_id: str) -> Prediction | None: ...
    def put(self, prediction: Prediction) -> None: ...
    def find(
        self, where: TaskFilter = ANY_TASK, *, limit: int = 100, within: int | None = None, offset: int = 0
    ) -> list[Prediction]:
        """The newest tasks (at most `limit`, after the first `offset` of them) that `where` keeps, among the newest
        `within` tasks if given."""
        ...

    def status_counts(self) -> dict[str, int]:
        """How many tasks the store holds in each status (every `Status`, 0 included), without reading them."""
        ...

    def processing(self) -> Iterable[Prediction]: ...
    def due(self, now: float, limit: int = 1000) -> list[Prediction]:
        """Tasks still processing whose `due_at` <= `now`, earliest first (any process may settle them)."""
        ...

    # -- atomic transitions -------------------------------------------------------------------------
    def admit(
        self, prediction: Prediction, *, reserve: float, limit: float | None, outbox: Sequence[OutboxRecord] = ()
    ) -> bool:
        """Write a new task with `reserve` credits held for it, unless the key's usage plus reservations plus
        `reserve` would pass `limit` (or nothing is left): then write nothing and return False."""
        ...

    def commit(self, prediction: Prediction, *, charge: float, outbox: Sequence[OutboxRecord] = ()) -> bool:
        """Write a terminal task, release its reservation, add `charge` to its key's usage, write `outbox`;
        unless the stored task is terminal already (another process settled it): then write nothing, False."""
        ...

    # -- credits ------------------------------------------------------------------------------------
    def add_usage(self, key: str, cost: float) -> float: ...
    def usage(self, key: str) -> float: ...
    def reserved(self, key: str) -> float: ...
    def credit_keys(self) -> list[str]:
        """Every key with credits used or held in the store (any key that created a task: its planned cost is
        held), sorted; without reading tasks."""
        ...

    # -- webhook deliveries (the outbox and the journal) ---------------------------------------------
    def put_delivery(self, delivery_id: str, data: Mapping[str, Any]) -> None: ...
    def delete_delivery(self, delivery_id: str) -> None: ...
    def deliveries(self) -> list[dict[str, Any]]: ...
    def delivery_counts(self) -> tuple[dict[str, int], int]:
        """The delivery records by status (those present), and their retries (attempts after each one's first),
        without reading the records where the store can (/metrics on a shared store)."""
        ...

    def find_deliveries(
        self,
        *,
        task_id: str | None = None,
        status: str | None = None,
        newest: int | None = None,
        skip: int = 0,
    ) -> list[dict[str, Any]]:
        """The records of one task and/or status in insertion order, only the newest `newest` if given, less the
        newest `skip` of them (a page further down); reads only those where the store can."""
        ...

    def delivery(self, delivery_id: str) -> dict[str, Any] | None: ...
    def pending_deliveries(self) -> list[dict[str, Any]]: ...

    # -- generic records, ids and small values ------------------------------------------------------
    def put_record(self, kind: str, record_id: str, data: Mapping[str, Any]) -> None: ...
    def delete_record(self, kind: str, record_id: str) -> None: ...
    def records(self, kind: str) -> list[dict[str, Any]]: ...
    def next_block(self, name: str, size: int) -> int: ...

    # -- sharing between processes: each pending delivery is held by one live process -----------------
    def delivery_stream(self) -> DeliveryStream | None:
        """Where this process reads the deliveries it is to send (Redis: the outbox stream), or None when a
        process holds the deliveries it writes itself (memory: one process; SQLite: the writer)."""
        ...

    def beat(self, now: float) -> None:
        """Show that this process (wall time `now`) is alive, so that no other takes its pending deliveries."""
        ...

    def reclaim(self, now: float, stale_after: float) -> list[dict[str, Any]]:
        """Take over (atomically, one taker) the pending deliveries whose holder was not seen for `stale_after` s;
        their records."""
        ...

    def get_meta(self, name: str) -> str | None: ...
    def set_meta(self, name: str, value: str) -> None: ...

    def reset(self) -> None: ...
    def close(self) -> None: ...

    @property
    def multiprocess(self) -> bool:
        """True when several processes may share this store (`--workers`)."""
        ...


def open_store(url: str, *, journal_limit: int = 10_000) -> Store:
    """`memory`, `sqlite:///path.db` or `redis://host:port/db`."""
    if url == "memory":
        from mock_server.store.memory import MemoryStore

        return MemoryStore(journal_limit=journal_limit)
    if url.startswith("sqlite:///"):
        from mock_server.store.sqlite import SqliteStore, sqlite_options

        path, timeout = sqlite_options(url)
        return SqliteStore(path, journal_limit=journal_limit, timeout=timeout)
    if url.startswith("redis://"):
        from mock_server.store.redis import RedisStore

        return RedisStore(url, journal_limit=journal_limit)
    raise SettingsError(f"store={url!r}: use {STORE_URLS}")
