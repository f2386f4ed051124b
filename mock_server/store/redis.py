"""The Redis store (`redis://host:port/db`): many mock processes and hosts share one state.

Every transition is one Lua script (atomic on the server): `admit` checks the key's credits and writes
the task with its hold, `commit` writes a terminal task only if it is still processing (so a task
settles exactly once, whichever process gets there first), releases the hold, charges the usage and
writes the webhook records. Keys live under `shuyou:` in the URL's database:

    t:<id> task JSON      tasks   zset id -> insertion seq      processing  set of ids   timers zset id -> due
    used / held  hash key -> credits      hold  hash task id -> credits held
    d  hash id -> delivery JSON   d:order zset id -> seq   d:pending zset   d:fin zset id -> finish seq
    d:s stream (one entry per pending delivery; consumer group `senders`)   d:entry hash id -> entry id
    rl  hash key -> "tokens|last refill" (rate limits)      j list of request journal rows   seq:j their number
    r:<kind> hash + r:<kind>:order zset   block:<name> counter   meta hash

A change of a meta value (the clock offset) is announced on the `shuyou:meta` channel, and `set_meta`
returns only once every subscribed process has acknowledged it (or after `ACK_WAIT` s): a process that
tracks meta (`track_meta()`) re-reads it only when told (`meta_changed()`), not before every request,
and still sees an advance made elsewhere before its next answer.

A request costs one command: the admit script per create, one GET per poll (an unchanged task is not
decoded again). On the request path (`get_async`, `admit_async`) and the due-task timer (`get_many_async`,
`commit_many_async`) the commands of every request in flight in one worker share a write and a wake-up
(`redis_batch`, group commit); the sync methods (control surface, sweeps, tests) use the store's own
connection (`_call`, not redis-py's pool and command wrappers). See `bench/bench_store.py` for figures.

The webhook outbox (the stream, its consumer group, XAUTOCLAIM of a dead process's entries) is
`redis_outbox`; its Lua is part of the transition scripts here.

An unreachable Redis (refused, closed, or no reply within `socket_timeout`, `TIMEOUT` s unless the URL's query
says otherwise: `redis://host:port/db?socket_timeout=2&socket_connect_timeout=2`, redis-py's own parameters) raises
the mock's `StoreUnavailable` (503) from every method: redis-py's errors are translated here, in `_Client`, `_call`
and the batcher, and nowhere above. A command is sent once more only on a dropped connection, never after a
timeout (it may still run), so no call waits longer than about one timeout. A timed-out script may run once Redis
answers again; what it took from the outbox for this process is then found in the stream
(`RedisDeliveryStream.lost_reply`), so no webhook is lost to an outage.

The scripts name keys from inside (one prefix), so they need a single Redis (or Valkey) >= 7, not a cluster.
redis-py (with hiredis) is imported here only, when a `redis://` store is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from mock_server.errors import SettingsError, StoreUnavailable
from mock_server.lifecycle import TERMINAL, Prediction, Status
from mock_server.store.codec import (
    ANY_TASK,
    OutboxRecord,
    Tally,
    TaskFilter,
    delivery_counts,
    delivery_tally,
    dumps,
    dumps_row,
    loads,
    loads_row,
    matches_delivery,
    prediction_from_json,
    prediction_from_record,
    prediction_to_json,
    status_counts,
)
from mock_server.store.redis_batch import TIMEOUT, UNREACHABLE, Batcher
from mock_server.store.redis_outbox import (
    DELETE,
    DELIVERY_LUA,
    GROUP,
    HEAD,
    PUT,
    RECLAIM,
    STREAM,
    TOUCH,
    TOUCH_AFTER,
    TOUCH_PAGES,
    RedisDeliveryStream,
    tally,
)

__all__ = ["RedisStore", "server_problem"]

P = "shuyou:"
META_CHANNEL = P + "meta"
FLUSH_CHANNEL = P + "j:flush"
"""A process listing the request journal asks the others to add their rows here (`request_flush`)."""
ACK_WAIT = 1.0
"""Seconds `set_meta` waits at most for every subscribed process to acknowledge a change."""
DECODED = 32_768
"""Tasks whose last decoded form `get` keeps (and those this process admitted): a poll of an unchanged task and
the settle of one created here skip JSON decoding (~30 us); at most ~1 KB each (JSON and its Prediction)."""
_ENDED = frozenset(str(s) for s in TERMINAL)  # the statuses `s:<status>` indexes

_LIB = (
    HEAD
    + DELIVERY_LUA
    + """
local function put_task(id, json, status, due)
  local new = redis.call('EXISTS', P..'t:'..id) == 0
  local seq = false
  if new then
    seq = redis.call('INCR', P..'seq:task')
    redis.call('ZADD', P..'tasks', seq, id)
  end
  redis.call('SET', P..'t:'..id, json)
  if status == 'processing' then
    redis.call('SADD', P..'processing', id)
    redis.call('ZADD', P..'timers', due, id)
  else
    -- a terminal status is absorbing: counted once, as the task enters it (status_counts), and indexed in
    -- the order of creation (find by status)
    if redis.call('SREM', P..'processing', id) == 1 or new then
      redis.call('HINCRBY', P..'ended', status, 1)
      local order = seq or redis.call('ZSCORE', P..'tasks', id)
      if order then redis.call('ZADD', P..'s:'..status, order, id) end
    end
    redis.call('ZREM', P..'timers', id)
  end
end
local function put_outbox(first, limit)
  local i, added = first, 0
  while ARGV[i] do
    added = added + put_delivery(ARGV[i], ARGV[i + 1], ARGV[i + 2], limit)
    i = i + 3
  end
  return added
end
"""
)

# ARGV: prefix, id, json, status, key, reserve, limit ('' = none), due, journal limit, outbox triples...
_ADMIT = (
    _LIB
    + """
local id, key, reserve = ARGV[2], ARGV[5], tonumber(ARGV[6])
if ARGV[7] ~= '' then
  local used = tonumber(redis.call('HGET', P..'used', key) or '0')
  local held = tonumber(redis.call('HGET', P..'held', key) or '0')
  local left = tonumber(ARGV[7]) - used - held
  if left <= 0 or left - reserve < -1e-9 then return 0 end
end
put_task(id, ARGV[3], ARGV[4], ARGV[8])
if reserve ~= 0 then
  redis.call('HSET', P..'hold', id, ARGV[6])
  redis.call('HINCRBYFLOAT', P..'held', key, ARGV[6])
end
return taken(put_outbox(10, tonumber(ARGV[9])))
"""
)

# ARGV: prefix, id, json, status, key, charge, journal limit, outbox triples...
_COMMIT = (
    _LIB
    + """
local id, key = ARGV[2], ARGV[5]
if redis.call('EXISTS', P..'t:'..id) == 1 and redis.call('SISMEMBER', P..'processing', id) == 0 then
  return 0
end
put_task(id, ARGV[3], ARGV[4], '0')
local held = redis.call('HGET', P..'hold', id)
if held then
  redis.call('HDEL', P..'hold', id)
  local left = tonumber(redis.call('HINCRBYFLOAT', P..'held', key, '-'..held))
  if left < 1e-9 then redis.call('HSET', P..'held', key, '0') end
end
if tonumber(ARGV[6]) ~= 0 then redis.call('HINCRBYFLOAT', P..'used', key, ARGV[6]) end
return taken(put_outbox(8, tonumber(ARGV[7])))
"""
)

# ARGV: prefix, id, json, status, due
_PUT_TASK = _LIB + "\nput_task(ARGV[2], ARGV[3], ARGV[4], ARGV[5])\nreturn 1\n"

# ARGV: prefix|owner, key, capacity, rate, now: refill the key's token bucket, take one if there is one
_TAKE_TOKEN = """
local P = string.match(ARGV[1], '^(.-)|')
local cap, rate, now = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local tokens, last = cap, now
local saved = redis.call('HGET', P..'rl', ARGV[2])
if saved then
  local t, l = string.match(saved, '^(.-)|(.*)$')
  tokens, last = tonumber(t), tonumber(l)
end
tokens = math.min(cap, tokens + math.max(0, now - last) * rate)
local left = tokens
if tokens >= 1 then left = tokens - 1 end
redis.call('HSET', P..'rl', ARGV[2], string.format('%.17g|%.17g', left, now))
return string.format('%.17g', tokens)
"""


def _outbox(outbox: Sequence[OutboxRecord]) -> list[str]:
    args: list[str] = []
    for delivery_id, data in outbox:
        args += [delivery_id, dumps(data), tally(data)]
    return args


def _retry() -> Retry:
    """A dropped connection is made again once, at once (a restarted Redis); a timeout is never retried."""
    return Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))


class _Client(redis.Redis):
    """redis-py's client whose unreachable-Redis errors are `StoreUnavailable` (every command goes through here)."""

    unavailable: Callable[[Exception], StoreUnavailable]

    def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call,unused-ignore]
        except UNREACHABLE as exc:
            raise self.unavailable(exc) from exc


def _used(value: str | None) -> float:
    """A key's charged credits as `HGET used` answers them."""
    return float(value) if value is not None else 0.0


def _held(value: str | None) -> float:
    """A key's reserved credits as `HGET held` answers them, floored at 0 as the release script floors them."""
    return max(0.0, float(value)) if value is not None else 0.0


def server_problem(info: Mapping[str, Any]) -> str | None:
    """Why the server `INFO server` describes cannot hold the store, or None. Valkey reports a frozen
    `redis_version` (7.2.4) beside its own `valkey_version`; any Valkey will do (its first release was 7.2.4)."""
    if str(info.get("server_name", "")).lower() == "valkey":
        return None
    version = str(info.get("redis_version", "0"))
    major = version.split(".")[0]
    if not major.isdigit() or int(major) < 7:
        return f"Redis {version} is too old; the mock needs Redis >= 7 (or Valkey)"
    return None


def _parsed(tally: str) -> Tally:
    """A delivery's tally as `redis_outbox.tally` wrote it ('<status> <attempts> <task id>')."""
    status, attempts, task_id = (*tally.split(" ", 2), "", "")[:3]
    return status, int(attempts or 0), task_id


def _keeps(tally: str, task_id: str | None, status: str | None) -> bool:
    """Whether a delivery's tally passes the filters."""
    found, _, task = _parsed(tally)
    return (status is None or found == status) and (task_id is None or task == task_id)


class RedisStore:
    """Implements `mock_server.store.Store` on one Redis database (sync client: calls are ~0.1 ms on loopback)."""

    multiprocess = True

    def __init__(self, url: str, *, journal_limit: int = 10_000) -> None:
        self._journal_limit = journal_limit
        self._stream: RedisDeliveryStream | None = None
        waits = {"socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT}  # the URL's query wins over these
        try:
            client = _Client.from_url(url, decode_responses=True, retry=_retry(), **waits)
        except ValueError as exc:  # redis-py: "Invalid value for 'socket_timeout' in connection URL."
            raise SettingsError(f"store={url!r}: {exc}") from exc
        self._r = cast(_Client, client)
        self._r.unavailable = self._unavailable
        params = self._r.connection_pool.connection_kwargs
        self.name = f"redis://{params.get('host', '127.0.0.1')}:{params.get('port', 6379)}/{params.get('db', 0)}"
        """The store as messages name it (no user or password)."""
        for wait in waits:
            seconds = params.get(wait)
            if not isinstance(seconds, float) or not math.isfinite(seconds) or seconds <= 0:
                raise SettingsError(
                    f"store={self.name}: {wait}={seconds!r} must be a number of seconds > 0 (the longest the mock "
                    f"waits for Redis; default {TIMEOUT:g}), e.g. {self.name}?{wait}=2"
                )
        self._timeout: float = params["socket_timeout"]
        self._connect_timeout: float = params["socket_connect_timeout"]
        try:
            info = self._r.info("server")
        except redis.ResponseError as exc:  # reached, but INFO refused (an ACL): say so, not "cannot reach"
            raise SettingsError(
                f"store={url!r}: the server refused INFO ({exc}); allow it for the mock's user"
            ) from exc
        except (StoreUnavailable, redis.RedisError) as exc:
            raise SettingsError(f"store={url!r}: cannot reach Redis ({exc}); is redis-server running there?") from exc
        problem = server_problem(info)
        if problem:
            raise SettingsError(f"store={url!r}: {problem}")
        self._admit = self._r.register_script(_ADMIT)
        self._commit = self._r.register_script(_COMMIT)
        self._put_d = self._r.register_script(PUT)
        self._delete_d = self._r.register_script(DELETE)
        self._put_t = self._r.register_script(_PUT_TASK)
        self._touch = self._r.register_script(TOUCH)
        self._reclaim = self._r.register_script(RECLAIM)
        self._take_token = self._r.register_script(_TAKE_TOKEN)
        self.owner = secrets.token_hex(8)
        self._p = f"{P}|{self.owner}"
        # task id -> (stored JSON, its Prediction), oldest first; an OrderedDict because a dict's next(iter())
        # scans the slots of every key popped before it: 14 % of a worker's samples at 4,400 creates/s
        self._decoded: OrderedDict[str, tuple[str, Prediction]] = OrderedDict()
        self._tracking = False  # until the subscriber runs (and after it fails): read meta every time
        self._version = 0  # announcements received (written by the listener thread only)
        self._seen = -1
        self._listener: threading.Thread | None = None
        self._flush: Callable[[], None] | None = None  # answers another process's `request_flush` (the listener)
        self._closing = threading.Event()
        self._conn: Any = None  # the request path's own connection (`_call`), made on first use
        self._conn_lock = threading.Lock()
        self._batcher: Batcher | None = None  # the request path's batches (`get_async`, `admit_async`), per loop
        self._url = url
        self._stale_ms = 0  # the reclaim bound last used (`beat` touches entries idle for TOUCH_AFTER of it)
        self._ensure_group()

    def _unavailable(self, reason: object) -> StoreUnavailable:
        """The error for an unreachable Redis; a reply lost with it may have taken entries for this process."""
        if self._stream is not None:
            self._stream.lost_reply()
        return StoreUnavailable(self.name, str(reason).rstrip("."))

    @contextlib.contextmanager
    def _reachable(self) -> Iterator[None]:
        """redis-py's unreachable-Redis errors as `StoreUnavailable`, for what `_Client` does not see (pipelines)."""
        try:
            yield
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc

    def _call(self, *command: Any) -> Any:
        """One command on this store's own connection, outside redis-py's pool and command wrappers.

        The request path (`get`, `admit`, `commit`, `usage`, `reserved`): 15 vs 44 us of client CPU per GET,
        89 vs 160 us wall (loopback, 20,000 GETs, 2026-12-02). A lock keeps threads (a test's, the server's)
        apart; a dropped connection is reopened and the command sent once more, as redis-py's retry would; a
        timeout is not retried (the command may yet run), and drops the connection (its late reply with it).
        """
        with self._conn_lock:
            if self._conn is None:
                self._conn = self._r.connection_pool.make_connection()
            conn = self._conn
            try:
                try:
                    conn.send_command(*command)
                    return conn.read_response()
                except redis.ConnectionError:
                    conn.disconnect()
                    conn.send_command(*command)
                    return conn.read_response()
            except UNREACHABLE as exc:
                conn.disconnect()
                raise self._unavailable(exc) from exc

    def _run(self, script: Any, args: list[str]) -> Any:
        """EVALSHA of a registered script on `_call`'s connection (loaded once more if Redis forgot it)."""
        try:
            return self._call("EVALSHA", script.sha, 0, *args)
        except redis.exceptions.NoScriptError:
            self._r.script_load(script.script)
            return self._call("EVALSHA", script.sha, 0, *args)

    def _batch(self) -> Batcher:
        """This event loop's batcher (made on first use: a test may run the app on several loops in turn)."""
        batcher = self._batcher
        if batcher is None or batcher.loop is not asyncio.get_running_loop():
            if batcher is not None:
                batcher.close()
            batcher = self._batcher = Batcher(self._r.connection_pool.connection_kwargs, self._unavailable)
        return batcher

    async def _run_async(self, script: Any, args: list[str]) -> Any:
        """`_run` through the batcher: EVALSHA, and the script loaded once more if Redis forgot it."""
        try:
            return await self._batch().call("EVALSHA", script.sha, 0, *args)
        except redis.exceptions.NoScriptError:
            self._r.script_load(script.script)  # rare (a SCRIPT FLUSH or a restarted Redis): blocking is fine
            return await self._batch().call("EVALSHA", script.sha, 0, *args)

    async def ping_async(self) -> None:
        """Return once Redis answers a PING (through the batcher: the loop is free meanwhile); else StoreUnavailable."""
        await self._batch().call("PING")

    def _ensure_group(self) -> None:
        with contextlib.suppress(redis.ResponseError):  # BUSYGROUP: it exists
            self._r.xgroup_create(P + STREAM, GROUP, id="0", mkstream=True)

    @staticmethod
    def _ids(values: Any) -> list[str]:
        """Members as str (the client decodes responses; redis-py's stubs do not know it)."""
        return [str(v) for v in values]

    # -- tasks ---------------------------------------------------------------------------------------
    def get(self, task_id: str) -> Prediction | None:
        return self._decode(task_id, self._call("GET", P + "t:" + task_id))

    async def get_async(self, task_id: str) -> Prediction | None:
        """`get` in the request path: one GET in the next batch of this loop's requests (`redis_batch`)."""
        return self._decode(task_id, await self._batch().call("GET", P + "t:" + task_id))

    def _decode(self, task_id: str, body: Any) -> Prediction | None:
        if body is None:
            return None
        seen = self._decoded.get(task_id)
        if seen is not None and seen[0] == body:  # polled again, unchanged: the same (frozen) Prediction
            return seen[1]
        p = prediction_from_json(body)
        self._keep(task_id, str(body), p)
        return p

    def _keep(self, task_id: str, body: str, p: Prediction) -> None:
        if len(self._decoded) >= DECODED:
            self._decoded.popitem(last=False)  # the oldest decoded first
        self._decoded[task_id] = (body, p)

    def put(self, prediction: Prediction) -> None:
        p = prediction
        self._put_t(args=[self._p, p.task_id, prediction_to_json(p), str(p.status), repr(p.due_at)])

    def find(
        self, where: TaskFilter = ANY_TASK, *, limit: int = 100, within: int | None = None, offset: int = 0
    ) -> list[Prediction]:
        """Newest first, through the `tasks` order, or a terminal status's own index (`s:<status>`, written by
        `put_task` in the same order) when the filter names one and the index holds every task of it: a list of
        the failed tasks among 10,000 then reads only those (the scan read all of them)."""
        out: list[Prediction] = []
        page = max(limit, 500)
        order, plain = P + "tasks", where.plain
        if where.status in _ENDED and within is None and self._indexed(where.status):
            order, plain = P + "s:" + where.status, replace(where, status=None).plain
        start, offset = (offset, 0) if plain else (0, offset)  # no other filter: the page starts there, none read
        while len(out) < limit and (within is None or start < within):
            end = start + page if within is None else min(start + page, within)
            ids = self._ids(self._r.zrevrange(order, start, end - 1))
            if not ids:
                break
            start += page
            for body in self._r.mget([P + "t:" + i for i in ids]):
                if body is None:
                    continue
                record = loads(body)  # filtered as a record; a task is built only for what it keeps
                if where.keeps(record):
                    if offset:
                        offset -= 1
                        continue
                    out.append(prediction_from_record(record))
                    if len(out) >= limit:
                        break
        return out

    def _indexed(self, status: str) -> bool:
        """Whether `s:<status>` lists every task in `status`: the counts cover every task and the index holds as
        many as its count (not so for tasks written before the counts or the index existed: then `find` scans)."""
        counts = self._counted()
        return counts is not None and int(self._r.zcard(P + "s:" + status)) == counts[status]

    def status_counts(self) -> dict[str, int]:
        """Three O(1) reads: the processing set's size and the `ended` counts `put_task` keeps per terminal status.

        Before, /metrics read and decoded every task once per status: 1.6 s for 20,000 tasks (2026-12-02), the
        event loop blocked. Tasks written before the counts existed (their sum falls short) are counted once by a
        scan, which writes the counts back (`_recount`).
        """
        counts = self._counted()
        return counts if counts is not None else self._recount()

    def _counted(self) -> dict[str, int] | None:
        """The tasks per status from the processing set and the `ended` counts, read at one moment (MULTI/EXEC),
        if they cover every task; None when some were written before the counts existed."""
        with self._reachable(), self._r.pipeline() as pipe:
            pipe.zcard(P + "tasks")
            pipe.scard(P + "processing")
            pipe.hgetall(P + "ended")
            total, processing, ended = pipe.execute()
        counts = status_counts([(Status.PROCESSING, processing), *ended.items()])
        return counts if sum(counts.values()) == int(total) else None

    def _recount(self) -> dict[str, int]:
        """The counts by a scan; unless a task was written meanwhile (WATCH), its terminal counts replace `ended`, so
        the next read is O(1) again. A write during the scan leaves `ended` as it was: the next read scans again."""
        with self._reachable(), self._r.pipeline() as pipe:
            pipe.watch(P + "tasks", P + "processing", P + "ended")  # type: ignore[no-untyped-call,unused-ignore]  # put_task writes one
            counts = status_counts((p.status, 1) for p in self.find(limit=int(pipe.zcard(P + "tasks"))))
            ended = [x for status, n in counts.items() if status != Status.PROCESSING and n for x in (status, n)]
            pipe.multi()
            pipe.delete(P + "ended")
            if ended:
                pipe.hset(P + "ended", items=ended)
            with contextlib.suppress(redis.WatchError):
                pipe.execute()
        return counts

    def processing(self) -> Iterable[Prediction]:
        ids = sorted(self._ids(self._r.smembers(P + "processing")))
        if not ids:
            return []
        bodies = self._r.mget([P + "t:" + i for i in ids])
        return [p for p in (prediction_from_json(b) for b in bodies if b is not None) if p.status is Status.PROCESSING]

    def due(self, now: float, limit: int = 1000) -> list[Prediction]:
        ids = self._ids(self._r.zrangebyscore(P + "timers", "-inf", now, start=0, num=limit))
        if not ids:
            return []
        bodies = self._r.mget([P + "t:" + i for i in ids])
        return [p for p in (prediction_from_json(b) for b in bodies if b is not None) if p.status is Status.PROCESSING]

    # -- atomic transitions ----------------------------------------------------------------------------
    def admit(
        self, prediction: Prediction, *, reserve: float, limit: float | None, outbox: Sequence[OutboxRecord] = ()
    ) -> bool:
        args = self._admit_args(prediction, reserve, limit, outbox)
        return self._admitted(prediction, args[2], self._run(self._admit, args))

    async def admit_async(
        self, prediction: Prediction, *, reserve: float, limit: float | None, outbox: Sequence[OutboxRecord] = ()
    ) -> bool:
        """`admit` in the request path: its script call in the next batch of this loop's requests."""
        args = self._admit_args(prediction, reserve, limit, outbox)
        return self._admitted(prediction, args[2], await self._run_async(self._admit, args))

    def _admitted(self, p: Prediction, body: str, reply: Any) -> bool:
        """The admit script's answer; a written task is kept decoded, so its settle here need not decode it."""
        wrote = self._wrote(reply)
        if wrote:
            self._keep(p.task_id, body, p)
        return wrote

    def _admit_args(
        self, p: Prediction, reserve: float, limit: float | None, outbox: Sequence[OutboxRecord]
    ) -> list[str]:
        args = [self._head(outbox), p.task_id, prediction_to_json(p), str(p.status), p.key, repr(reserve)]
        args += ["" if limit is None else repr(limit), repr(p.due_at), str(self._journal_limit), *_outbox(outbox)]
        return args

    def commit(self, prediction: Prediction, *, charge: float, outbox: Sequence[OutboxRecord] = ()) -> bool:
        return self._wrote(self._run(self._commit, self._commit_args(prediction, charge, outbox)))

    def _commit_args(self, p: Prediction, charge: float, outbox: Sequence[OutboxRecord]) -> list[str]:
        args = [self._head(outbox), p.task_id, prediction_to_json(p), str(p.status), p.key, repr(charge)]
        return [*args, str(self._journal_limit), *_outbox(outbox)]

    async def get_many_async(self, task_ids: Sequence[str]) -> list[Prediction | None]:
        """Tasks by id (None where there is none): one MGET in the next batch."""
        bodies = await self._batch().call("MGET", *[P + "t:" + i for i in task_ids])
        return [self._decode(i, body) for i, body in zip(task_ids, bodies, strict=True)]

    async def commit_many_async(
        self, commits: Sequence[tuple[Prediction, float, Sequence[OutboxRecord]]]
    ) -> list[bool]:
        """`commit` of each (prediction, charge, outbox), all in the next batch; what each wrote, in order."""
        batch, sha = self._batch(), self._commit.sha
        calls = [batch.call("EVALSHA", sha, 0, *self._commit_args(p, c, o)) for p, c, o in commits]
        replies = await asyncio.gather(*calls, return_exceptions=True)  # every future read, failed or not
        wrote = []
        for reply, (p, charge, outbox) in zip(replies, commits, strict=True):
            if isinstance(reply, redis.exceptions.NoScriptError):
                reply = await self._run_async(self._commit, self._commit_args(p, charge, outbox))
            elif isinstance(reply, BaseException):
                raise reply
            wrote.append(self._wrote(reply))
        return wrote

    def _head(self, outbox: Sequence[OutboxRecord]) -> str:
        """ARGV[1]: the prefix and owner, and '|1' when this process's consumer is to take what is written."""
        return self._p + "|1" if outbox and self._stream is not None and self._stream.active else self._p

    def _wrote(self, reply: Any) -> bool:
        """A script's answer: 0 (nothing written) or [1, (id, record or '') of each entry it took for this consumer]."""
        if not isinstance(reply, list):
            return bool(reply)
        if len(reply) > 1 and self._stream is not None:
            self._stream.note([str(v) for v in reply[1:]])
        return bool(reply[0])

    # -- credits -------------------------------------------------------------------------------------
    def add_usage(self, key: str, cost: float) -> float:
        return float(self._r.hincrbyfloat(P + "used", key, cost))

    def usage(self, key: str) -> float:
        return _used(self._call("HGET", P + "used", key))

    async def used_async(self, key: str) -> float:
        """`usage(key) + reserved(key)` in the request path: both reads in the next batch."""
        batch = self._batch()
        used, held = batch.call("HGET", P + "used", key), batch.call("HGET", P + "held", key)
        return _used(await used) + _held(await held)

    def reserved(self, key: str) -> float:
        return _held(self._call("HGET", P + "held", key))

    def credit_keys(self) -> list[str]:
        with self._reachable(), self._r.pipeline(transaction=False) as pipe:
            pipe.hkeys(P + "used")
            pipe.hkeys(P + "held")
            used, held = pipe.execute()
        return sorted({str(k) for k in (*used, *held)})

    # -- deliveries ------------------------------------------------------------------------------------
    def put_delivery(self, delivery_id: str, data: Mapping[str, Any]) -> None:
        head = self._head(((delivery_id, data),))
        self._wrote(self._put_d(args=[head, delivery_id, dumps(data), tally(data), str(self._journal_limit)]))

    def delete_delivery(self, delivery_id: str) -> None:
        self._delete_d(args=[self._p, delivery_id])

    def _deliveries(self, index: str) -> list[dict[str, Any]]:
        ids = self._ids(self._r.zrange(P + index, 0, -1))
        if not ids:
            return []
        return [loads(b) for b in self._r.hmget(P + "d", ids) if b is not None]

    def deliveries(self) -> list[dict[str, Any]]:
        return self._deliveries("d:order")

    def delivery_counts(self) -> tuple[dict[str, int], int]:
        """From the tallies `put_delivery` keeps beside the records (`d:tally`, ~20 bytes each): one HVALS.

        Before, /metrics read and decoded every record: 250 ms of the event loop with 12,000 pending deliveries
        (~1 KB each; 2026-12-04). Records written before the tallies existed (fewer tallies than records) are
        counted from the records.
        """
        with self._reachable(), self._r.pipeline() as pipe:  # MULTI/EXEC: both from one moment
            pipe.zcard(P + "d:order")
            pipe.hvals(P + "d:tally")
            total, tallies = pipe.execute()
        if len(tallies) != int(total):
            return delivery_counts(map(delivery_tally, self.deliveries()))
        return delivery_counts(_parsed(str(t)) for t in tallies)

    def find_deliveries(
        self,
        *,
        task_id: str | None = None,
        status: str | None = None,
        newest: int | None = None,
        skip: int = 0,
    ) -> list[dict[str, Any]]:
        """The records a filter keeps, found by the task's index, the pending index or the tallies: only those
        are read.

        Among 12,000 (~1 KB each, loopback, 2026-12-04): a task's deliveries 1.3-1.6 ms by its index
        (`d:t:<task id>`), against 110-220 ms to read and decode every record; the newest 51 (an inspector page)
        ~1.5 ms; the newest 51 of a finished status 28-34 ms (every id and tally).
        """
        if newest is not None and newest <= skip:
            return []
        ids = self._task_deliveries(task_id) if task_id is not None else None
        if ids is None and task_id is None and status in (None, "pending"):  # an index holds just these: a window
            index = "d:pending" if status == "pending" else "d:order"
            ids = self._ids(self._r.zrange(P + index, -newest if newest else 0, -1 - skip))
        else:
            if ids is None:
                ids = self._ids(self._r.zrange(P + "d:order", 0, -1))
            if ids:
                tallies = self._r.hmget(P + "d:tally", ids)
                ids = [i for i, t in zip(ids, tallies, strict=True) if t is None or _keeps(str(t), task_id, status)]
                ids = ids[max(0, len(ids) - newest) if newest is not None else 0 : len(ids) - skip]
        if not ids:
            return []
        found = [loads(b) for b in self._r.hmget(P + "d", ids) if b is not None]
        return [r for r in found if matches_delivery(r, task_id, status)]  # a record without a tally too

    def _task_deliveries(self, task_id: str) -> list[str] | None:
        """A task's delivery ids in insertion order, from its index; None while records of an earlier version
        (written without tally or index) remain: then the tallies are scanned."""
        with self._reachable(), self._r.pipeline(transaction=False) as pipe:
            pipe.hlen(P + "d:tally")
            pipe.zcard(P + "d:order")
            pipe.smembers(P + "d:t:" + task_id)
            tallied, total, members = pipe.execute()
        if int(tallied) != int(total):
            return None
        ids = self._ids(members)
        scores = self._r.zmscore(P + "d:order", ids) if ids else []
        return [i for _, i in sorted((float(s), i) for i, s in zip(ids, scores, strict=True) if s is not None)]

    def delivery(self, delivery_id: str) -> dict[str, Any] | None:
        text = self._r.hget(P + "d", delivery_id)
        return loads(text) if text is not None else None

    def pending_deliveries(self) -> list[dict[str, Any]]:
        return self._deliveries("d:pending")

    # -- sharing: the outbox stream (mock_server.store.redis_outbox) ------------------------------------
    def delivery_stream(self) -> RedisDeliveryStream:
        if self._stream is None:
            self._stream = RedisDeliveryStream(
                self._url,
                prefix=P,
                consumer=self.owner,
                journal_limit=self._journal_limit,
                name=self.name,
                timeout=self._timeout,
                connect_timeout=self._connect_timeout,
            )
        return self._stream

    def beat(self, now: float) -> None:
        """Touch this process's stream entries that have idled for TOUCH_AFTER of the reclaim bound (Redis's
        own idle clock, so `now` is not needed): a live holder's retries never look dead."""
        start, idle = "-", str(int(self._stale_ms * TOUCH_AFTER))
        for _ in range(TOUCH_PAGES if self._stale_ms else 0):
            start = str(self._touch(args=[self._p, idle, start]))
            if not start:
                return

    def reclaim(self, now: float, stale_after: float) -> list[dict[str, Any]]:
        """XAUTOCLAIM the entries idle for more than `stale_after` s (their holder died); their records."""
        self._stale_ms = max(1, int(stale_after * 1000))
        found = self._reclaim(args=[self._p, str(self._stale_ms)])
        return [loads(b) for b in found if b]

    # -- rate limits (mock_server.ratelimit.Buckets, shared by every process) ------------------------------
    def take_token(self, key: str, capacity: float, rate: float, now: float) -> float:
        return float(self._take_token(args=self._token_args(key, capacity, rate, now)))

    async def take_token_async(self, key: str, capacity: float, rate: float, now: float) -> float:
        """`take_token` in the request path: its script call in the next batch."""
        return float(await self._run_async(self._take_token, self._token_args(key, capacity, rate, now)))

    def _token_args(self, key: str, capacity: float, rate: float, now: float) -> list[str]:
        return [self._p, key, repr(capacity), repr(rate), repr(now)]

    # -- generic records, ids, meta ----------------------------------------------------------------------
    def put_record(self, kind: str, record_id: str, data: Mapping[str, Any]) -> None:
        with self._reachable(), self._r.pipeline() as pipe:  # MULTI/EXEC
            pipe.hset(P + "r:" + kind, record_id, dumps(data))
            pipe.zadd(P + "r:" + kind + ":order", {record_id: self._r.incr(P + "seq:r")}, nx=True)
            pipe.execute()

    def delete_record(self, kind: str, record_id: str) -> None:
        with self._reachable(), self._r.pipeline() as pipe:
            pipe.hdel(P + "r:" + kind, record_id)
            pipe.zrem(P + "r:" + kind + ":order", record_id)
            pipe.execute()

    def records(self, kind: str) -> list[dict[str, Any]]:
        ids = self._ids(self._r.zrange(P + "r:" + kind + ":order", 0, -1))
        if not ids:
            return []
        return [loads(b) for b in self._r.hmget(P + "r:" + kind, ids) if b is not None]

    def next_block(self, name: str, size: int) -> int:
        return int(self._r.incrby(P + "block:" + name, size)) - size

    def get_meta(self, name: str) -> str | None:
        value = self._r.hget(P + "meta", name)
        return None if value is None else str(value)

    def set_meta(self, name: str, value: str) -> None:
        self._r.hset(P + "meta", name, value)
        token = secrets.token_hex(8)
        told = int(self._r.publish(META_CHANNEL, token))  # the number of subscribed processes, this one included
        deadline = time.monotonic() + ACK_WAIT
        while told and int(self._r.get(P + "ack:" + token) or 0) < told and time.monotonic() < deadline:
            time.sleep(0.0005)  # a control operation (clock advance): a few ms here keep every answer exact

    # -- meta change tracking (pub/sub) --------------------------------------------------------------------
    def track_meta(self) -> None:
        """Subscribe to meta changes (once); from then on `meta_changed()` is False until one is announced."""
        if self._listener is not None:
            return
        self._listener = threading.Thread(target=self._listen, name="shuyou-meta", daemon=True)
        ready = threading.Event()
        self._listener_ready = ready
        self._listener.start()
        ready.wait(5.0)

    def meta_changed(self) -> bool:
        """True if meta may have changed since the last call (always True when not tracking or not subscribed)."""
        version = self._version  # taken before the caller reads meta: an announcement after it is not lost
        changed = version != self._seen or not self._tracking
        self._seen = version
        return changed

    def _listen(self) -> None:
        while not self._closing.is_set():
            pubsub = self._r.pubsub()  # type: ignore[no-untyped-call,unused-ignore]
            try:
                pubsub.subscribe(META_CHANNEL, FLUSH_CHANNEL)
                confirmed = 0
                while confirmed < 2:  # wait for the server's confirmations: then nothing is missed
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "subscribe":
                        confirmed += 1
                    elif self._closing.is_set():
                        return
                self._version += 1  # anything announced before the subscription: read once more
                self._tracking = True
                self._listener_ready.set()
                while not self._closing.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is None or message.get("type") != "message":
                        continue
                    if message.get("channel") == FLUSH_CHANNEL:
                        self._answer_flush()
                    else:
                        self._version += 1  # before the acknowledgement: the next request re-reads
                    self._acknowledge(str(message["data"]))
            except (redis.RedisError, OSError, ValueError):
                self._tracking = False  # unsubscribed: read before every request again
                self._listener_ready.set()
                self._closing.wait(0.5)
            finally:
                with contextlib.suppress(redis.RedisError, OSError):
                    pubsub.close()

    def _acknowledge(self, token: str) -> None:
        with self._r.pipeline() as pipe:
            pipe.incr(P + "ack:" + token)
            pipe.expire(P + "ack:" + token, 60)
            pipe.execute()

    def _answer_flush(self) -> None:
        flush = self._flush
        if flush is not None:
            with contextlib.suppress(StoreUnavailable):  # acknowledged all the same: the next sweep adds them
                flush()

    # -- the shared request journal (SharedJournal) -------------------------------------------------------
    def add_requests(self, rows: Sequence[Sequence[Any]], limit: int) -> None:
        if not rows:
            return
        first = int(self._r.incrby(P + "seq:j", len(rows))) - len(rows) + 1
        encoded = [dumps_row((first + i, *row)) for i, row in enumerate(rows)]
        with self._reachable(), self._r.pipeline() as pipe:  # MULTI/EXEC
            pipe.rpush(P + "j", *encoded)
            pipe.ltrim(P + "j", -limit, -1)
            pipe.execute()

    def requests(self) -> list[tuple[Any, ...]]:
        return [tuple(loads_row(row)) for row in self._r.lrange(P + "j", 0, -1)]

    def serve_flushes(self, flush: Callable[[], None]) -> None:
        self._flush = flush
        self.track_meta()  # the listener that answers

    def request_flush(self, now: float, alive_within: float) -> Callable[[], bool]:
        token = secrets.token_hex(8)
        told = int(self._r.publish(FLUSH_CHANNEL, token))  # every listening process, this one included
        ack = P + "ack:" + token
        return lambda: not told or int(self._r.get(ack) or 0) >= told

    def reset(self) -> None:
        self._decoded.clear()
        keep = P + "meta"  # the clock does not go back on reset
        names = [k for k in self._r.scan_iter(match=P + "*", count=1000) if k != keep]
        for i in range(0, len(names), 500):
            self._r.delete(*names[i : i + 500])
        self._ensure_group()

    def close(self) -> None:
        self._closing.set()
        if self._batcher is not None:
            self._batcher.close()
            self._batcher = None
        if self._listener is not None:
            self._listener.join(2.0)
        with self._conn_lock:
            if self._conn is not None:
                self._conn.disconnect()
                self._conn = None
        self._r.close()
