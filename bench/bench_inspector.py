"""Benchmark: the inspector's data endpoints with 10,000 tasks and 10,000 deliveries, and what an open page costs.

1. The mock (its own process, one uvicorn worker, time scale 0) gets 10,000 tasks, each with a webhook to a
   loopback receiver that answers 204, so 10,000 deliveries are journaled. Then every data endpoint under
   `/_mock/inspector/` is timed, unfiltered and with filters that scan (no index serves them) (target:
   each < 50 ms).
2. Create and get throughput of the API (bench_mock's load generator) in alternating rounds with no page
   open and with a real headless chromium on `/_mock/ui` (Tasks tab, live, watching the tasks being
   created), same run (target: >= 0.9x). The server's CPU per request is printed too: the browser shares
   the machine's cores, so the CPU ratio isolates what the page costs the server; `--page stream` replaces
   the browser by a reader of the same SSE stream (what the page asks of the server, without its CPU).

    python bench/bench_inspector.py [--page chromium|stream] [--tasks 10000] [--rounds 5] [--seconds 1.5]
                                    [--store URL] [--rounds 0]

`--store redis://...` or `sqlite:///...` serves from that store (give it an empty one); `--rounds 0` stops after
the data endpoints.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_mock import BODY, _one, cpu_seconds, load, request_bytes  # noqa: E402


def serve(store: str) -> None:
    import uvicorn

    from mock_server.app import create_app
    from mock_server.settings import Settings

    app = create_app(Settings(time_scale=0, store=store))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)  # connections wait in the backlog until uvicorn is up
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")).run(sockets=[sock])


def browse(url: str) -> None:
    """Keep a headless chromium on `url` while stdin says `open`; `blank` moves it to about:blank."""
    sys.path.insert(0, str(ROOT))
    from playwright.sync_api import sync_playwright

    from tests.browser._browser import launch

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        for line in sys.stdin:
            if line.strip() == "open":
                page.goto(url)
                page.wait_for_selector("#live.on")
            else:
                page.goto("about:blank")
            print("ok", flush=True)
        browser.close()


async def receiver() -> tuple[asyncio.Server, int]:
    """A loopback webhook receiver that answers 204 to everything (keep-alive)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length")), 0
                )
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):  # the bench is done
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def get_json(port: int, path: str) -> tuple[Any, float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.perf_counter()
    body = await _one(reader, writer, request_bytes("GET", path))
    elapsed = (time.perf_counter() - start) * 1000
    writer.close()
    return json.loads(body), elapsed


async def populate(port: int, tasks: int, connections: int = 16) -> None:
    server, hook_port = await receiver()
    hook = f"http://127.0.0.1:{hook_port}/hook"
    audio = {"model": "qwen3-tts-flash", "function": "audio", "input": {"prompt": "hi", "voice": "Cherry"}}
    kinds = [{**json.loads(BODY), "webhook": hook}, {**audio, "webhook": hook}]  # every 10th task is audio
    payloads = [request_bytes("POST", "/v1/predictions", json.dumps(k).encode()) for k in kinds]
    made = 0

    async def worker() -> None:
        nonlocal made
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while made < tasks:
            made += 1
            await _one(reader, writer, payloads[1 if made % 10 == 0 else 0])
        writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    deadline = time.monotonic() + 120
    while (await get_json(port, "/_mock/inspector/webhooks?status=pending&limit=1"))[0]["data"]:
        assert time.monotonic() < deadline, "deliveries did not finish within 120 s"
        await asyncio.sleep(0.2)
    server.close()


def watch(port: int, path: str, watching: threading.Event, stopping: threading.Event) -> None:
    """While `watching` is set, hold the page's SSE stream open and read it, reconnecting when a stream ends."""
    while not stopping.is_set():
        if not watching.wait(0.05):
            continue
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.settimeout(0.05)
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            while watching.is_set() and not stopping.is_set():
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                if not chunk or chunk.endswith(b"0\r\n\r\n"):  # the stream ended (after 10 s): reconnect
                    break


ENDPOINTS = [
    "/_mock/inspector/tasks",
    "/_mock/inspector/tasks?offset=5000",
    "/_mock/inspector/tasks?function=audio",  # no index on the function: the store scans the newest 10,000
    "/_mock/inspector/tasks?key=…ench",  # a key suffix: the same scan
    "/_mock/inspector/tasks?status=failed",  # nothing matches: the store scans every task
    "/_mock/inspector/tasks/{task_id}",
    "/_mock/inspector/webhooks",
    "/_mock/inspector/webhooks?status=exhausted",  # nothing matches: a full scan
    "/_mock/inspector/webhooks?offset=9000",
    "/_mock/inspector/requests",
    "/_mock/inspector/requests?path=nothing",
    "/_mock/inspector/credits",  # every key with a task: a full scan
    "/_mock/inspector/rules",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--samples", type=int, default=30, help="timed calls per data endpoint")
    parser.add_argument(
        "--page",
        choices=["chromium", "stream"],
        default="chromium",
        help="the open page: a real headless chromium, or a reader of the SSE stream the page opens (server cost only)",
    )
    parser.add_argument("--store", default="memory", help="the mock's store (an empty one)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--browse", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.store)
        return 0
    if args.browse:
        browse(args.browse)
        return 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, __file__, "--serve", "--store", args.store]
    mock = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, cwd=ROOT)
    browser = None
    watching, stopping = threading.Event(), threading.Event()
    try:
        port = int(mock.stdout.readline())  # type: ignore[union-attr]
        started = time.perf_counter()
        asyncio.run(populate(port, args.tasks))
        last = asyncio.run(get_json(port, f"/_mock/inspector/webhooks?limit=1&offset={args.tasks - 1}"))[0]
        if len(last["data"]) != 1 or last["more"]:
            raise RuntimeError(f"expected exactly {args.tasks} webhook deliveries in the journal")
        print(f"{args.tasks} tasks and {args.tasks} delivered webhooks in {time.perf_counter() - started:.1f} s")
        first = asyncio.run(get_json(port, "/_mock/inspector/tasks?limit=1"))[0]["data"][0]["task_id"]
        print(f"{'data endpoint':<48}{'median ms':>10}{'p95 ms':>9}{'max ms':>9}{'CPU ms':>8}{'rows':>6}")
        worst = worst_cpu = 0.0
        for path in ENDPOINTS:
            url = path.replace("{task_id}", first).replace("…", "%E2%80%A6")
            times, rows = [], 0
            before = cpu_seconds(mock.pid)
            for _ in range(args.samples):
                data, ms = asyncio.run(get_json(port, url))
                times.append(ms)
                rows = len(data.get("data", data.get("outputs", [])))
            cpu_ms = (cpu_seconds(mock.pid) - before) / args.samples * 1000
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            worst, worst_cpu = max(worst, p95), max(worst_cpu, cpu_ms)
            print(f"{path:<48}{statistics.median(times):>10.1f}{p95:>9.1f}{times[-1]:>9.1f}{cpu_ms:>8.1f}{rows:>6}")
        print(
            f"worst p95: {worst:.1f} ms wall (target < 50 ms); worst server CPU per call: {worst_cpu:.1f} ms "
            "(what an endpoint costs, without the wait for a core on a shared machine)"
        )
        if args.rounds == 0:
            return 0

        stream = f"/_mock/inspector/stream?view=tasks&detail={first}"
        if args.page == "chromium":
            browser = subprocess.Popen(
                [sys.executable, __file__, "--browse", f"http://127.0.0.1:{port}/_mock/ui"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                cwd=ROOT,
                text=True,
            )
        else:
            watcher = threading.Thread(target=watch, args=(port, stream, watching, stopping), daemon=True)
            watcher.start()

        def page(state: str) -> None:
            if browser is None:
                (watching.set if state == "open" else watching.clear)()
                return
            browser.stdin.write(state + "\n")  # type: ignore[union-attr]
            browser.stdin.flush()  # type: ignore[union-attr]
            assert browser.stdout.readline().strip() == "ok"  # type: ignore[union-attr]

        rates: dict[tuple[str, str], list[float]] = {}
        cpu: dict[tuple[str, str], list[float]] = {}
        payloads = {
            "create": request_bytes("POST", "/v1/predictions", BODY),
            "get": request_bytes("GET", f"/v1/predictions/{first}"),
        }
        for route, payload in payloads.items():
            asyncio.run(load(port, payload, 300, 2.0, args.connections))  # warm-up
            for i in range(args.rounds):
                # Swap the order every round: creates grow the store (and the GC's work), so a fixed order
                # would charge the growth to whichever state always comes second.
                for state in ("closed", "open") if i % 2 == 0 else ("open", "closed"):
                    page(state if state == "open" else "blank")
                    before = cpu_seconds(mock.pid)
                    done, elapsed = asyncio.run(load(port, payload, args.requests, args.seconds, args.connections))
                    rates.setdefault((state, route), []).append(done / elapsed)
                    cpu.setdefault((state, route), []).append((cpu_seconds(mock.pid) - before) / done * 1e6)
        print(
            f"{'route':<8}{'no page':>10}{'page open':>11}{'ratio':>7}"
            f"{'CPU us/req':>12}{'with page':>11}{'CPU ratio':>11}"
        )
        for route in payloads:
            closed, opened = statistics.median(rates[("closed", route)]), statistics.median(rates[("open", route)])
            c_cpu, o_cpu = statistics.median(cpu[("closed", route)]), statistics.median(cpu[("open", route)])
            print(
                f"{route:<8}{closed:>10.0f}{opened:>11.0f}{opened / closed:>7.2f}{c_cpu:>12.0f}{o_cpu:>11.0f}"
                f"{c_cpu / o_cpu:>11.2f}"
            )
        print(
            f"req/s medians of {args.rounds} alternating rounds (target ratio >= 0.9); the page: "
            + (
                "a headless chromium on /_mock/ui (Tasks, live)"
                if browser
                else f"a reader of {stream} (what the page asks)"
            )
            + "; 'CPU ratio' = server CPU per request without / with the page"
        )
    finally:
        stopping.set()
        if browser is not None:
            browser.stdin.close()  # type: ignore[union-attr]
            browser.wait(30)
        mock.terminate()
        mock.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
