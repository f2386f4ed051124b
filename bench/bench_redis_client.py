"""redis-py's sync client vs its asyncio client (both on hiredis) on loopback: CPU and wall per call, same run.

The webhook outbox (`mock_server.store.redis_outbox`) chose between them with this script. Each round
runs, in alternating order, N calls of: a sync GET; an asyncio GET awaited one at a time; asyncio GETs
in one pipeline of 100; and the outbox's own write (one EVALSHA with the records of 100 finished
deliveries, as `RedisDeliveryStream.save` sends per event-loop tick) against 100 sync `put_delivery`
calls. Prints this process's CPU (process_time) and wall time per call, and the ratios to sync.

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

from mock_server.store.redis import RedisStore

RECORD = {"status": "delivered", "delivery_id": "msg_x", "url": "http://127.0.0.1:1/h", "payload": "x" * 600}


def timed(run: Callable[[], None], calls: int) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return (time.process_time() - cpu) / calls * 1e6, (time.perf_counter() - wall) / calls * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url")
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = args.calls - args.calls % 100
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
    loop.run_until_complete(stream.aclose())
    loop.run_until_complete(aio.aclose())
    store.reset()
    sync.delete("bench:k")
    return 0


if __name__ == "__main__":
    sys.exit(main())
