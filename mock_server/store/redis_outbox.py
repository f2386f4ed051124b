"""The Redis webhook outbox: a stream with one consumer group, its Lua, and the asyncio consumer that reads it.

Model (every process on one Redis is a consumer of the group `senders` on the stream `shuyou:d:s`, named by
its random owner token):

- A pending delivery record written by a transition (`admit`/`commit`'s script) or by `put_delivery` is
  XADDed to the stream in the same script, unless it has an entry already (`d:entry` maps delivery id ->
  entry id). The entry carries the record, so a read needs no second round trip.
- A process whose consumer runs (`read()` was called) takes the entries its own script adds, with
  XREADGROUP in that same script (`taken()`): no extra round trip and no wait for its read loop, which
  under a saturated event loop added ~100 ms per delivery (1,000 creates from 16 clients, delay from
  terminal to receipt p50 146 ms before, 48 ms after; two runs minutes apart, 2026-12-02 06:47-06:50
  UTC, machine shared, load 4-7, so not a same-run ratio). Other entries (written by a process without a running
  consumer, redeliveries) are read by any process's loop, XREADGROUP with BLOCK and COUNT (`read()`).
  What a process read is in its pending entries list (PEL) and it alone sends it (lanes, retries on its
  scheduler).
- A finished record (delivered, exhausted, gone, blocked) is written by the script that XACKs and XDELs its
  entry (`DeliveryStream.save`, every finished record of one event-loop tick in ONE script call): the
  stream holds exactly the pending deliveries. A retry due later is a pending record written the same way;
  its entry stays in the holder's PEL.
- A live process's entries must not look dead while they wait for a retry or behind a slow receiver: its
  sweep (`beat`, every `peers.SWEEP` s) resets the idle time of its own entries idle for more than
  `TOUCH_AFTER` of the reclaim bound (XPENDING IDLE + XCLAIM ... JUSTID to itself, in pages of 1,000;
  O(entries touched)). Measured with 12,000 held entries (`bench/bench_redis_client.py`, 07:02 UTC, load
  2.7): touching all of them costs redis-server 30 ms of CPU (2.5 us each; 12 script runs of ~2.5 ms, so
  no other client waits longer than one; 60 ms at load 8), a sweep with none due 0.5 ms; each entry is
  touched about every 1.5-1.75 s, i.e. ~2 % of one Redis core for 12,000 deliveries waiting for retries.
  A killed process touches nothing, so after `stale_after` s its entries are taken by the next sweep of a
  live one with XAUTOCLAIM (min-idle-time), which resumes them with their stored record (same
  `webhook-id`, attempts so far). Consumers with no entries left, idle as long, are deleted from the group.
- Every script first makes sure the group exists (a reset deletes every key, the group with them), and
  XREADGROUP re-creates it on NOGROUP, so a reset on one process never stops another's consumer.
- A reply lost to an outage (a timeout, a dropped connection) may belong to a command that ran, or runs once
  Redis answers again: a script that took entries for this consumer, or a read. Those entries are in this
  consumer's PEL, touched by its `beat` like the rest, yet the process does not know it holds them. So after
  any lost reply (`lost_reply()`), `orphans()` reads this consumer's own PEL (XREADGROUP from id 0) until two
  reads in a row, both after the last lost reply, have run: a command that was still waiting in Redis's socket
  buffers when the first read ran has run by the second. The dispatcher adopts what it does not hold yet.

Sync vs asyncio client, CPU per call of this process (`bench/bench_redis_client.py`, loopback, hiredis,
2026-12-02 07:02 UTC, 2-core VM shared with other work, load 2.7; medians of 3 alternating rounds):
GET sync 39 us (wall 64 us); asyncio awaited one by one 77 us (2.0x; wall 103 us); asyncio in pipelines
of 100 9.5 us (0.24x). A finished record: one sync `put_delivery` script call 78 us (wall 149 us, the event
loop blocked throughout); `save()` of 100 records in one asyncio script call 8.6 us per record (0.11x).
(At 06:07 UTC, load 6.3: 38 / 90 / 16 us and 56 / 11 us, the same order.)
So the request path (`admit`/`commit`, one call per request) stays on the sync client, and the delivery
path, where many results finish at once, writes them per tick through asyncio, never blocking the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from mock_server.errors import StoreUnavailable
from mock_server.store.codec import OutboxRecord, delivery_tally, dumps, loads
from mock_server.store.redis_batch import TIMEOUT, UNREACHABLE

__all__ = [
    "BLOCK_MAX_MS",
    "DELIVERY_LUA",
    "GROUP",
    "HEAD",
    "STREAM",
    "TOUCH_AFTER",
    "TOUCH_PAGES",
    "RedisDeliveryStream",
    "tally",
]

STREAM = "d:s"
GROUP = "senders"
BLOCK_MAX_MS = 1000
"""The longest one `read()` blocks (XREADGROUP BLOCK): the stream's connections wait that much longer for a reply
than the store's `socket_timeout`."""
PEL_PAGE = 1000
"""Entries per XREADGROUP when `orphans()` reads this consumer's PEL."""
TOUCH_AFTER = 0.5
"""A process touches its entries idle for more than this share of the reclaim bound (`stale_after`): with
`peers.STALE` 3 s, at 1.5 s, which leaves 1.5 s (6 sweeps) before another process may take them."""

# Needs P (the key prefix). put_delivery: upsert the record, its tally (`tally`: what /metrics counts and a
# listing filters on) and its task's index entry (`d:t:<task id>`, a set: a task's deliveries without a scan),
# keep insertion order, bound the finished journal and keep the stream equal to the pending deliveries.
DELIVERY_LUA = """
local S, G = P..'d:s', 'senders'
local function ensure_group()
  redis.pcall('XGROUP', 'CREATE', S, G, '0', 'MKSTREAM')
end
local fresh = {}  -- ids this script added to the stream
local function task_of(tally)
  return string.match(tally, '^%S+ %S+ (.+)$')
end
local function unindex(id)
  local t = redis.call('HGET', P..'d:tally', id)
  local task = t and task_of(t)
  if task then redis.call('SREM', P..'d:t:'..task, id) end
  redis.call('HDEL', P..'d:tally', id)
end
local function put_delivery(id, json, tally, limit)
  local seq = redis.call('ZSCORE', P..'d:order', id)
  if not seq then
    seq = redis.call('INCR', P..'seq:d')
    redis.call('ZADD', P..'d:order', seq, id)
  end
  redis.call('HSET', P..'d', id, json)
  redis.call('HSET', P..'d:tally', id, tally)
  local task = task_of(tally)
  if task then redis.call('SADD', P..'d:t:'..task, id) end
  local entry = redis.call('HGET', P..'d:entry', id)
  if string.sub(tally, 1, 8) ~= 'pending ' then
    if entry then
      redis.call('XACK', S, G, entry)
      redis.call('XDEL', S, entry)
      redis.call('HDEL', P..'d:entry', id)
    end
    redis.call('ZREM', P..'d:pending', id)
    local fin = redis.call('INCR', P..'seq:fin')
    redis.call('ZADD', P..'d:fin', fin, id)
    local old = redis.call('ZRANGEBYSCORE', P..'d:fin', '-inf', fin - limit)
    for _, victim in ipairs(old) do
      redis.call('HDEL', P..'d', victim)
      unindex(victim)
      redis.call('ZREM', P..'d:order', victim)
      redis.call('ZREM', P..'d:fin', victim)
    end
  else
    redis.call('ZREM', P..'d:fin', id)
    redis.call('ZADD', P..'d:pending', seq, id)
    if not entry then
      redis.call('HSET', P..'d:entry', id, redis.call('XADD', S, '*', 'd', id, 'r', json))
      fresh[id] = true
      return 1
    end
  end
  return 0
end
-- When the writer's consumer runs (TAKE = '1'), it reads (XREADGROUP) as many new entries as it just
-- added, in the same script: usually its own, with no round trip and no wait for its read loop.
-- Returns {1, id, record or '' (one this script added: the writer has it), ...}.
local function taken(added)
  local out = {1}
  if TAKE ~= '1' or added == 0 then return out end
  local read = {'XREADGROUP', 'GROUP', G, OWNER, 'COUNT', added, 'STREAMS', S, '>'}
  local r = redis.pcall(unpack(read))
  if type(r) == 'table' and r.err then
    ensure_group()
    r = redis.call(unpack(read))
  end
  if r then
    for _, e in ipairs(r[1][2]) do
      out[#out + 1] = e[2][2]
      out[#out + 1] = fresh[e[2][2]] and '' or e[2][4]
    end
  end
  return out
end
local function delete_delivery(id)
  local entry = redis.call('HGET', P..'d:entry', id)
  if entry then
    redis.call('XACK', S, G, entry)
    redis.call('XDEL', S, entry)
    redis.call('HDEL', P..'d:entry', id)
  end
  for _, name in ipairs({'d:order', 'd:pending', 'd:fin'}) do redis.call('ZREM', P..name, id) end
  redis.call('HDEL', P..'d', id)
  unindex(id)
end
"""

HEAD = "local P, OWNER, TAKE = string.match(ARGV[1], '^([^|]*)|([^|]*)|?(.*)$')\n"
"""The scripts' first line: ARGV[1] is 'prefix|owner' or 'prefix|owner|1' (take what it adds)."""

# ARGV: prefix|owner, journal limit, (id, json, tally) triples
_SAVE = (
    HEAD
    + DELIVERY_LUA
    + """
local limit, i = tonumber(ARGV[2]), 3
while ARGV[i] do
  put_delivery(ARGV[i], ARGV[i + 1], ARGV[i + 2], limit)
  i = i + 3
end
return 1
"""
)

# ARGV: prefix|owner, idle ms, start: reset the idle time of up to TOUCH_PAGE of this consumer's entries idle longer
# than that, from entry id `start` on; returns the next start ('' when done). Pages keep each run short (~5 ms).
TOUCH = (
    HEAD
    + DELIVERY_LUA
    + """
local page = redis.pcall('XPENDING', S, G, 'IDLE', ARGV[2], ARGV[3], '+', 1000, OWNER)
if page.err then ensure_group() return '' end
for i = 1, #page, 500 do
  local ids = {}
  for j = i, math.min(i + 499, #page) do ids[#ids + 1] = page[j][1] end
  ids[#ids + 1] = 'JUSTID'
  redis.call('XCLAIM', S, G, OWNER, 0, unpack(ids))
end
if #page < 1000 then return '' end
return '(' .. page[#page][1]
"""
)
TOUCH_PAGES = 100
"""At most this many pages of 1,000 entries per `beat()` (a process holding more risks duplicate sends only)."""

# ARGV: prefix|owner, min idle ms: take (XAUTOCLAIM) the entries idle longer than that; their current records
RECLAIM = (
    HEAD
    + DELIVERY_LUA
    + """
ensure_group()
local out, cursor = {}, '0-0'
repeat
  local r = redis.call('XAUTOCLAIM', S, G, OWNER, ARGV[2], cursor, 'COUNT', 500)
  cursor = r[1]
  for _, e in ipairs(r[2]) do
    if e and e[2] then
      local id = e[2][2]
      local body = redis.call('HGET', P..'d', id)
      if body and redis.call('HGET', P..'d:entry', id) == e[1] then
        out[#out + 1] = body
      else
        redis.call('XACK', S, G, e[1])
        redis.call('XDEL', S, e[1])
      end
    end
  end
until cursor == '0-0' or #out >= 10000
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', S, G)) do
  local info = {}
  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
  if info['name'] ~= OWNER and info['pending'] == 0 and info['idle'] > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', S, G, info['name'])
  end
end
return out
"""
)

# ARGV: prefix|owner, delivery id
DELETE = HEAD + DELIVERY_LUA + "\ndelete_delivery(ARGV[2])\nreturn 1\n"

# ARGV: prefix|owner, delivery id, json, tally, journal limit
PUT = HEAD + DELIVERY_LUA + "\nreturn taken(put_delivery(ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])))\n"


def tally(data: Any) -> str:
    """The record's `codec.delivery_tally` as the scripts take it, '<status> <attempts> <task id>' (any status
    but pending: finished), kept beside the record (`RedisStore.delivery_counts`, `find_deliveries`)."""
    return " ".join(map(str, delivery_tally(data)))


class RedisDeliveryStream:
    """This process's consumer of the outbox stream, on redis-py's asyncio client (hiredis parser).

    Made by `RedisStore.delivery_stream()`; used on the event loop that runs the webhook dispatcher only.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        consumer: str,
        journal_limit: int,
        name: str = "redis",
        timeout: float = TIMEOUT,
        connect_timeout: float = TIMEOUT,
    ) -> None:
        self.consumer = consumer
        self._url = url
        self._name = name  # the store as messages name it
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._lost = 0  # replies lost so far (`lost_reply`)
        self._clean = 2  # reads of the PEL in a row since the last lost reply (two: nothing to look for)
        self._prefix = prefix
        self._args = f"{prefix}|{consumer}"
        self._journal_limit = str(journal_limit)
        self._r: redis.asyncio.Redis | None = None
        self._save: Any = None
        self.active = False  # reading (the dispatcher's intake runs): the store's writes then take what they add
        self._own: set[str] = set()  # taken by the script that wrote them: the writer has the record
        self._taken: list[dict[str, Any]] = []  # taken by a write, but written before by someone else

    def note(self, pairs: Sequence[str]) -> None:
        """(id, record or '') pairs of entries a store script read for this consumer (see `took`, `taken`)."""
        for i in range(0, len(pairs) - 1, 2):
            if pairs[i + 1]:
                self._taken.append(loads(pairs[i + 1]))
            else:
                self._own.add(pairs[i])

    def took(self, delivery_id: str) -> bool:
        """True (once) if this process's own write of `delivery_id` took its entry: it holds it now."""
        if delivery_id in self._own:
            self._own.discard(delivery_id)
            return True
        return False

    def taken(self) -> list[dict[str, Any]]:
        """Records of older entries this process's writes took since the last call (no round trip)."""
        found, self._taken = self._taken, []
        return found

    def lost_reply(self) -> None:
        """A command of this process got no reply (it may have run, or run later): look for orphans (see above)."""
        self._lost += 1
        self._clean = 0

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        self.lost_reply()
        return StoreUnavailable(self._name, str(exc).rstrip("."))

    def _client(self) -> redis.asyncio.Redis:
        if self._r is None:  # made on the loop that uses it (the dispatcher's)
            r = redis.asyncio.Redis.from_url(
                self._url,
                decode_responses=True,
                socket_connect_timeout=self._connect_timeout,
                retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),  # a timeout: never again
            )
            # Set after the URL is read (its query would win): a read blocks up to BLOCK_MAX_MS by design.
            r.connection_pool.connection_kwargs["socket_timeout"] = self._timeout + BLOCK_MAX_MS / 1000
            self._r, self._save = r, r.register_script(_SAVE)
        return self._r

    async def orphans(self) -> list[dict[str, Any]]:
        """Records of the entries this consumer holds in Redis, while a lost reply may have added some unseen."""
        if self._clean >= 2:
            return []
        r, lost, key = self._client(), self._lost, self._prefix + STREAM
        found: list[dict[str, Any]] = []
        start = "0"
        try:
            while True:
                reply: Any = await r.xreadgroup(GROUP, self.consumer, {key: start}, count=PEL_PAGE)
                entries = [entry for _, page in reply or () for entry in page]
                found += [loads(fields["r"]) for _, fields in entries if fields]  # deleted entries: no fields
                if len(entries) < PEL_PAGE:
                    break
                start = entries[-1][0]
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc
        if self._lost == lost:  # no reply lost while reading
            self._clean += 1
        return found

    async def read(self, count: int, block_ms: int) -> list[dict[str, Any]]:
        """Up to `count` records of deliveries nobody read yet (now this process's), waiting `block_ms` at most."""
        r = self._client()
        self.active = True
        key = self._prefix + STREAM
        try:
            reply = await r.xreadgroup(GROUP, self.consumer, {key: ">"}, count=count, block=min(block_ms, BLOCK_MAX_MS))
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            try:  # deleted by a reset: make it again (at 0: entries written meanwhile are read)
                await r.xgroup_create(key, GROUP, id="0", mkstream=True)
            except redis.ResponseError as busy:
                if "BUSYGROUP" not in str(busy):
                    raise
            return []
        found: Any = reply or ()  # [[stream, [(entry id, {field: value})]]] (RESP2, decoded)
        return [loads(fields["r"]) for _, entries in found for _, fields in entries if fields]

    async def save(self, records: Sequence[OutboxRecord]) -> None:
        """Write delivery records in one script call; a finished one's entry is acknowledged with it."""
        if not records:
            return
        self._client()
        args = [self._args, self._journal_limit]
        for delivery_id, data in records:
            args += [delivery_id, dumps(data), tally(data)]
        try:
            await self._save(args=args)
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from exc

    async def aclose(self) -> None:
        self.active = False
        r, self._r = self._r, None
        if r is not None:
            await r.aclose()
