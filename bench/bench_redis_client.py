"""redis-py's sync client vs its asyncio client (both on hiredis) on loopback: CPU and wall per call, same run.

The webhook outbox (`mock_server.store.redis_outbox`) chose between them with this script. Each round
runs, in alternating order, N calls of: a sync GET; an asyncio GET awaited one at a time; asyncio GETs
in pipelines of 100 and of 8; the request path's `redis_batch.Batcher` with 8 GETs in flight (as 8
requests of one worker) and with one at a time; and the outbox's own write (one EVALSHA with the records of 100 finished
deliveries, as `RedisDeliveryStream.save` sends per event-loop tick) against 100 sync `put_delivery`
calls. Prints this process's CPU (process_time) and wall time per call, and the ratios to sync.
2026-12-02 13:17 UTC, load 2.1-2.3 (another bench running beside), 8,000 calls, 5 rounds: sync GET 44.3 us
CPU per call, asyncio one by one 75.3 (1.70x), asyncio pipelines of 8 19.7 (0.44x), of 100 9.4 (0.21x);
Batcher with 8 in flight **5.5 us (0.12x)**, with 1 in flight 36.2 us (0.82x): cheaper than the sync client
even with no company, and 3.6x cheaper than redis-py's asyncio pipeline at the batch size the request path
sees (13:17:00 UTC, load 2.5-2.8: 54.4 sync, 23.6 pipelines of 8, 6.3 Batcher).
Then the cost of a live holder's sweep with `--held` (12,000) entries in its PEL: one `beat()` that
touches all of them (redis-server CPU per entry, when it runs here) and one that finds none to touch.

    python bench/bench_redis_client.py redis://127.0.0.1:6379/15 [--calls 5000] [--rounds 3]

It writes keys under `bench:` and `shuyou:` in that database: use a spare one (the URL's /db).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import redis
import redis.asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mock_server.store.redis import RedisStore
from mock_server.store.redis_batch import Batcher

RECORD = {"status": "delivered", "delivery_id": "msg_x", "url": "http://127.0.0.1:1/h", "payload": "x" * 600}


def timed(run: Callable[[], None], calls: int) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return (time.process_time() - cpu) / calls * 1e6, (time.perf_counter() - wall) / calls * 1e6


def touch(loop: asyncio.AbstractEventLoop, store: RedisStore, stream: object, url: str, held: int) -> None:
    from bench_mock import cpu_seconds  # bench/ is on sys.path (the script's own folder)

    store.reset()
    store.reclaim(0.0, 3.0)  # the bound a sweep uses (peers.STALE): beat() touches entries idle > 1.5 s
    for i in range(held):
        store.put_delivery(f"h{i}", {"status": "pending", "n": i})
    while loop.run_until_complete(stream.read(1000, 1)):  # type: ignore[attr-defined]
        pass
    ids = [e["message_id"] for e in store._r.xpending_range("shuyou:d:s", "senders", "-", "+", held)]
    pid = int(store._r.info("server")["process_id"])
    for case, idle in (("all idle 2 s, touched", 2000), ("none idle long enough", 0)):
        for i in range(0, len(ids), 1000):
            store._r.xclaim("shuyou:d:s", "senders", store.owner, 0, ids[i : i + 1000], idle=idle, justid=True)
        cpu, wall = cpu_seconds(pid), time.perf_counter()
        store.beat(0.0)
        cpu, wall = cpu_seconds(pid) - cpu, time.perf_counter() - wall
        print(f"  beat() with {held} held, {case:24} redis-server CPU {cpu * 1e3:5.1f} ms, wall {wall * 1e3:5.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url")
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--held", type=int, default=12_000, help="entries held for the beat() case")
    args = parser.parse_args()
    n = args.calls - args.calls % 200
    sync = redis.Redis.from_url(args.url, decode_responses=True)
    sync.set("bench:k", "v" * 100)
    store = RedisStore(args.url, journal_limit=1000)
    loop = asyncio.new_event_loop()
    aio = redis.asyncio.Redis.from_url(args.url, decode_responses=True)
    stream = store.delivery_stream()

    def sync_get() -> None:
        for _ in range(n):
            sync.get("bench:k")

    async def one_by_one() -> None:
        for _ in range(n):
            await aio.get("bench:k")

    async def pipelined() -> None:
        for _ in range(n // 100):
            async with aio.pipeline(transaction=False) as pipe:
                for _ in range(100):
                    pipe.get("bench:k")
                await pipe.execute()

    async def batcher_gets() -> None:  # the request path's group commit: 8 requests in flight share a write
        batcher = Batcher(sync.connection_pool.connection_kwargs)
        for _ in range(n // 8):
            for future in [batcher.call("GET", "bench:k") for _ in range(8)]:
                await future
        batcher.close()

    async def batcher_one() -> None:  # one request at a time: a write and a wake-up each, as the sync client
        batcher = Batcher(sync.connection_pool.connection_kwargs)
        for _ in range(n):
            await batcher.call("GET", "bench:k")
        batcher.close()

    async def pipelined_8() -> None:  # the same 8 at a time through redis-py's asyncio pipeline
        for _ in range(n // 8):
            async with aio.pipeline(transaction=False) as pipe:
                for _ in range(8):
                    pipe.get("bench:k")
                await pipe.execute()

    def sync_puts() -> None:
        for i in range(n):
            store.put_delivery(f"s{i % 100}", RECORD)

    async def batched_saves() -> None:
        for _ in range(n // 100):
            await stream.save([(f"a{i}", RECORD) for i in range(100)])

    cases: dict[str, Callable[[], None]] = {
        "GET, sync client": sync_get,
        "GET, asyncio, awaited one by one": lambda: loop.run_until_complete(one_by_one()),
        "GET, asyncio, pipelines of 100": lambda: loop.run_until_complete(pipelined()),
        "GET, asyncio, pipelines of 8": lambda: loop.run_until_complete(pipelined_8()),
        "GET, redis_batch.Batcher, 8 in flight": lambda: loop.run_until_complete(batcher_gets()),
        "GET, redis_batch.Batcher, 1 in flight": lambda: loop.run_until_complete(batcher_one()),
        "finished record, sync put_delivery each": sync_puts,
        "finished record, asyncio save() of 100": lambda: loop.run_until_complete(batched_saves()),
    }
    loop.run_until_complete(one_by_one())  # warm up: connections, scripts loaded
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for round_ in range(args.rounds):
        for name in cases if round_ % 2 == 0 else list(cases)[::-1]:
            results[name].append(timed(cases[name], n))
    print(f"bench_redis_client: {n} calls per case, {args.rounds} rounds, median; {args.url}")
    base_cpu = statistics.median(c for c, _ in results["GET, sync client"])
    base_put = statistics.median(c for c, _ in results["finished record, sync put_delivery each"])
    for name, values in results.items():
        cpu, wall = statistics.median(c for c, _ in values), statistics.median(w for _, w in values)
        base = base_put if name.startswith("finished") else base_cpu
        print(f"  {name:42} CPU {cpu:6.1f} us/call ({cpu / base:4.2f}x sync), wall {wall:6.1f} us/call")
    touch(loop, store, stream, args.url, args.held)
    loop.run_until_complete(stream.aclose())
    loop.run_until_complete(aio.aclose())
    store.reset()
    sync.delete("bench:k")
    return 0


if __name__ == "__main__":
    sys.exit(main())
