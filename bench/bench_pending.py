"""Benchmark: GET latency with 12,000 webhook deliveries pending, against the same mock with none pending.

The mock runs in its own process (one uvicorn worker, memory store, time scale 0, webhook backoff of an
hour, so a failed delivery stays pending); this process is the load generator. Each phase measures GET
of one finished task on a few keep-alive connections while a trickle of creates with a webhook to a
closed loopback port keeps the delivery journal updating (two updates per create: queued, then the
failed first attempt). Phase 1 has (next to) nothing pending; then 12,000 tasks with webhooks to the
closed port are created; phase 2 repeats phase 1 with them all pending. Prints p50/p99 of both phases,
the same-run ratio (target: GET p99 within 2x, issue 9) and the time the 12,000 creates took.

`--store redis://...` or `sqlite:///...` runs the mock on a shared store (give it an empty one: nothing here
clears it). `--scrape S` also scrapes `GET /metrics` every S seconds during both phases, as Prometheus
would, and prints the scrapes' wall times: a scrape counts every delivery, so on a shared store it reads all of
them from the store (the mock does that on a worker thread, not the event loop).

    python bench/bench_pending.py [--pending 12000] [--gets 3000] [--trickle 50] [--connections 4]
                                  [--store URL] [--scrape SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_mock import BODY, _one, first_task_id, load, request_bytes, wait_listening

ROOT = Path(__file__).resolve().parent.parent


def serve(store: str) -> None:
    import uvicorn

    from mock_server.app import create_app
    from mock_server.settings import Settings
    from mock_server.webhooks.settings import WebhookSettings

    hooks = WebhookSettings(backoff_base=3600.0, backoff_max=3600.0, jitter=0.0, timeout=2.0)
    app = create_app(Settings(time_scale=0.0, webhooks=hooks, store=store))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")).run(sockets=[sock])


def percentile_ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))] * 1e3


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def timed_gets(port: int, payload: bytes, total: int, connections: int) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + 60

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while len(latencies) < total and time.perf_counter() < deadline:
                started = time.perf_counter()
                await _one(reader, writer, payload)
                latencies.append(time.perf_counter() - started)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies


async def trickle(port: int, payload: bytes, rate: float, stop: asyncio.Event) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0
    start = time.perf_counter()
    try:
        while not stop.is_set():
            await _one(reader, writer, payload)
            sent += 1
            await asyncio.sleep(max(0.0, start + sent / rate - time.perf_counter()))
    finally:
        writer.close()
    return sent


async def scraper(port: int, every: float, stop: asyncio.Event, walls: list[float]) -> None:
    """GET /metrics every `every` seconds until `stop`; each scrape's wall time into `walls`."""
    payload = request_bytes("GET", "/metrics")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while not stop.is_set():
            started = time.perf_counter()
            await _one(reader, writer, payload)
            walls.append(time.perf_counter() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
    finally:
        writer.close()


async def phase(port: int, get: bytes, create: bytes, args: argparse.Namespace, scrapes: list[float]) -> list[float]:
    stop = asyncio.Event()
    creates = asyncio.create_task(trickle(port, create, args.trickle, stop))
    scraping = asyncio.create_task(scraper(port, args.scrape, stop, scrapes)) if args.scrape else None
    try:
        return await timed_gets(port, get, args.gets, args.connections)
    finally:
        stop.set()
        await creates
        if scraping is not None:
            await scraping


def pending(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET /_mock/webhooks?status=pending HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        raw = b"".join(iter(lambda: s.recv(1 << 20), b""))
    body = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    return sum(1 for d in body["deliveries"] if d["attempts"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pending", type=int, default=12_000)
    parser.add_argument("--gets", type=int, default=3000, help="GETs per phase")
    parser.add_argument("--trickle", type=float, default=50.0, help="creates/s with a webhook during each phase")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--store", default="memory", help="the mock's store (an empty one)")
    parser.add_argument("--scrape", type=float, default=0.0, help="scrape /metrics every this many seconds")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.store)
        return 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, __file__, "--serve", "--store", args.store]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, cwd=ROOT)
    try:
        port = int(proc.stdout.readline())  # type: ignore[union-attr]
        wait_listening(port)
        hook = json.loads(BODY) | {"webhook": f"http://127.0.0.1:{closed_port()}/webhook"}
        create = request_bytes("POST", "/v1/predictions", json.dumps(hook).encode())
        get = request_bytes("GET", f"/v1/predictions/{asyncio.run(first_task_id(port))}")
        asyncio.run(load(port, get, 500, 2.0, args.connections))  # warm-up
        quiet_scrapes: list[float] = []
        busy_scrapes: list[float] = []
        quiet = asyncio.run(phase(port, get, create, args, quiet_scrapes))
        before = pending(port)
        t0 = time.perf_counter()
        asyncio.run(load(port, create, args.pending, 600.0, 16))
        created = time.perf_counter() - t0
        deadline = time.monotonic() + 120
        while (now_pending := pending(port)) < before + args.pending and time.monotonic() < deadline:
            time.sleep(0.5)  # until every first attempt has failed and its retry waits
        busy = asyncio.run(phase(port, get, create, args, busy_scrapes))
        print(
            f"bench_pending: {os.cpu_count()} CPUs, python {sys.version.split()[0]}, {args.connections} connections, "
            f"store {args.store}"
        )
        rate = args.pending / created
        print(f"{args.pending:,} creates with webhooks to a closed port: {created:.1f} s ({rate:,.0f}/s)")
        print(f"{'phase':<34}{'GETs':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
        for name, lat in ((f"{before:,} pending", quiet), (f"{now_pending:,} pending", busy)):
            p50, p99, top = statistics.median(lat) * 1e3, percentile_ms(lat, 99), max(lat) * 1e3
            print(f"{name:<34}{len(lat):>7}{p50:>9.2f}{p99:>9.2f}{top:>9.2f}")
        print(
            f"same-run ratio, {now_pending:,} vs {before:,} pending: p50 "
            f"{statistics.median(busy) / statistics.median(quiet):.2f}x, "
            f"p99 {percentile_ms(busy, 99) / percentile_ms(quiet, 99):.2f}x (target <= 2x); "
            f"{args.trickle:g} creates/s with webhooks during both phases"
        )
        for name, walls in ((f"{before:,} pending", quiet_scrapes), (f"{now_pending:,} pending", busy_scrapes)):
            if walls:
                print(
                    f"/metrics every {args.scrape:g} s, {name}: {len(walls)} scrapes, wall median "
                    f"{statistics.median(walls) * 1e3:.1f} ms, max {max(walls) * 1e3:.1f} ms"
                )
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
