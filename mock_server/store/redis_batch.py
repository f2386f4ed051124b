"""Group commit for the Redis store's request path: the requests in flight on one event loop share round trips.

`Batcher.call(*args)` queues one command and returns a future of its reply. Commands queued while no batch
is in flight go out at the end of the current loop iteration, in one `write()`; while a batch is in flight
the next one fills, and is written the moment the last reply of the one before arrives. So a worker with
8 requests waiting on Redis sends one write and is woken once, not 8 times, and redis-server reads 8
commands per read. Each reply resolves its own future: an error reply (`-ERR`, `-NOSCRIPT`) fails only its
request; a lost connection fails every command written on it (they may or may not have run) and the next
call connects again. Nothing is answered before Redis's reply, so a create answered was written.

Every wait is bounded: a connection by `socket_connect_timeout`, the replies of a batch by `socket_timeout`
(the store URL's query, `TIMEOUT` s by default). A batch with no complete answer by then fails as a lost
connection does (the connection is dropped, so no late reply is read as another's), and the next call connects
again: a Redis that hangs (SIGSTOP) answers 503s within the timeout and is used again once it answers. The
deadline is checked by one timer per `socket_timeout`, not one per batch.

Hand-written (an asyncio Protocol, `hiredis.pack_command` to encode, `hiredis.Reader` to parse, both C)
because redis-py's asyncio client costs more than its sync one per call: `bench/bench_redis_client.py`,
2026-12-02 13:17 UTC (load 2.1-2.3), CPU per GET: redis-py sync 44.3 us, asyncio one by one 75.3 us, asyncio
pipelines of 8 19.7 us; this batcher with 8 in flight 5.5 us, with 1 in flight 36.2 us. `bench/bench_store.py`
has the effect on the mock (its docstring).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, cast

import hiredis
import redis

__all__ = ["TIMEOUT", "UNREACHABLE", "Batcher"]

TIMEOUT = 5.0
"""Seconds the mock waits for Redis, to connect and for each reply, unless the store URL sets `socket_timeout` or
`socket_connect_timeout` (redis-py's own query parameters; the sync client and this batcher read both)."""
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)
"""redis-py's errors for a Redis that refused, closed or did not answer (what the mock's `StoreUnavailable` means)."""


def _error(reply: hiredis.ReplyError) -> redis.RedisError:
    message = str(reply)
    if message.startswith("NOSCRIPT"):
        return redis.exceptions.NoScriptError(message)
    return redis.ResponseError(message)


class _Connection(asyncio.Protocol):
    def __init__(self, batcher: Batcher) -> None:
        self._batcher = batcher
        self._reader = hiredis.Reader(encoding="utf-8")
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass: no isinstance

    def data_received(self, data: bytes) -> None:
        reader, flight = self._reader, self._batcher.flight
        reader.feed(data)
        reply = reader.gets()
        while reply is not False:
            future = flight.popleft()
            if not future.done():  # its request may have been cancelled (the client went away)
                if isinstance(reply, hiredis.ReplyError):
                    future.set_exception(_error(reply))
                else:
                    future.set_result(reply)
            reply = reader.gets()
        if not flight:
            self._batcher.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._batcher.lost(self, exc)


def _seconds(value: Any) -> float:
    return float(value) if value is not None else TIMEOUT


class Batcher:
    """Commands of one event loop's requests to one Redis, written in batches (see the module docstring).

    A command that cannot be answered fails with `unavailable(reason)` (by default a `redis.ConnectionError`).
    """

    def __init__(self, params: Mapping[str, Any], unavailable: Callable[[str], Exception] | None = None) -> None:
        self._host = str(params.get("host", "127.0.0.1"))
        self._port = int(params.get("port", 6379))
        self._timeout = _seconds(params.get("socket_timeout"))
        self._connect_timeout = _seconds(params.get("socket_connect_timeout"))
        where = f"Redis at {self._host}:{self._port}"
        self._unavailable = unavailable or (lambda reason: redis.ConnectionError(f"{where}: {reason}"))
        hello: list[tuple[Any, ...]] = []
        if params.get("password"):
            user = params.get("username")
            hello.append(("AUTH", user, params["password"]) if user else ("AUTH", params["password"]))
        if params.get("db"):
            hello.append(("SELECT", params["db"]))
        self._hello = hello
        self._loop = asyncio.get_running_loop()
        self._queue: list[bytes] = []  # commands waiting for the next write
        self._waiting: list[asyncio.Future[Any]] = []  # their futures, in the same order
        self.flight: deque[asyncio.Future[Any]] = deque()  # written, reply not read yet, in order
        self._conn: _Connection | None = None
        self._connecting = False
        self._scheduled = False
        self._sent_at = 0.0  # loop time of the last write: the batch in flight is answered by `+ _timeout`
        self._watch: asyncio.TimerHandle | None = None  # the deadline's timer, while anything was written
        self._expired = False  # the connection is being dropped for want of an answer
        self._lost_error: Exception | None = None  # what the last lost connection failed its commands with

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def call(self, *args: Any) -> asyncio.Future[Any]:
        """Queue one command; the future of its reply (an error reply is its exception)."""
        future: asyncio.Future[Any] = self._loop.create_future()
        self._queue.append(hiredis.pack_command(args))
        self._waiting.append(future)
        if not self._scheduled and not self.flight:
            self._scheduled = True
            self._loop.call_soon(self.flush)  # after this iteration's other requests queued theirs
        return future

    def flush(self) -> None:
        """Write everything queued, unless a batch is in flight (its last reply flushes) or we are connecting."""
        self._scheduled = False
        if not self._queue or self.flight or self._connecting:
            return
        conn = self._conn
        if conn is None or conn.transport is None or conn.transport.is_closing():
            self._connecting = True
            self._loop.create_task(self._connect())
            return
        queue, self._queue = self._queue, []
        waiting, self._waiting = self._waiting, []
        self.flight.extend(waiting)
        conn.transport.write(b"".join(queue))
        self._sent()

    def _sent(self) -> None:
        """A batch was written: its replies are due within `socket_timeout` (one timer, re-armed by `_check`)."""
        self._sent_at = self._loop.time()
        if self._watch is None:
            self._watch = self._loop.call_at(self._sent_at + self._timeout, self._check)

    def _check(self) -> None:
        self._watch = None
        if not self.flight:
            return
        due = self._sent_at + self._timeout
        if self._loop.time() < due:  # a later batch than the one the timer was armed for
            self._watch = self._loop.call_at(due, self._check)
            return
        conn = self._conn
        if conn is not None and conn.transport is not None:
            self._expired = True
            conn.transport.abort()  # `lost()` fails the batch; a late reply can no longer be read as another's

    async def _connect(self) -> None:
        conn: _Connection | None = None
        try:
            made = self._loop.create_connection(lambda: _Connection(self), self._host, self._port)
            _, connected = await asyncio.wait_for(made, self._connect_timeout)
            conn = self._conn = connected
            for command in self._hello:  # AUTH / SELECT first, alone, before any queued command
                future: asyncio.Future[Any] = self._loop.create_future()
                self.flight.append(future)
                assert connected.transport is not None
                connected.transport.write(hiredis.pack_command(command))
                self._sent()
                await future
        except Exception as exc:  # refused, timed out, AUTH/SELECT refused or dropped: whatever waits fails now
            self._connecting = False
            self._conn = None
            if conn is not None and conn.transport is not None and not conn.transport.is_closing():
                conn.transport.abort()
            if exc is self._lost_error:  # dropped during AUTH/SELECT: `lost()` said why
                error = exc
            elif isinstance(exc, TimeoutError):
                error = self._unavailable(f"no connection within {self._connect_timeout:g} s")
            elif isinstance(exc, OSError) and exc.errno:  # "Connection refused", not asyncio's "Connect call failed"
                error = self._unavailable(os.strerror(exc.errno))
            else:
                error = self._unavailable(str(exc))
            self._fail_queued(error)
            return
        self._connecting = False
        self.flush()

    def _fail_queued(self, error: Exception) -> None:
        waiting, self._waiting, self._queue = self._waiting, [], []
        for future in waiting:
            if not future.done():
                future.set_exception(error)

    def lost(self, conn: _Connection, exc: Exception | None) -> None:
        """The connection closed: its written commands fail (ran or not: nobody can tell); queued ones reconnect."""
        if self._conn is conn:
            self._conn = None
        expired, self._expired = self._expired, False
        flight, self.flight = self.flight, deque()
        if flight:
            reason = f"no reply within {self._timeout:g} s" if expired else f"closed the connection ({exc or 'EOF'})"
            error = self._lost_error = self._unavailable(reason)
            for future in flight:
                if not future.done():
                    future.set_exception(error)
        if self._queue and not self._connecting:
            self.flush()

    def close(self) -> None:
        watch, self._watch = self._watch, None
        conn, self._conn = self._conn, None
        with contextlib.suppress(RuntimeError):  # its loop is closed already
            if watch is not None:
                watch.cancel()
            if conn is not None and conn.transport is not None:
                conn.transport.close()
