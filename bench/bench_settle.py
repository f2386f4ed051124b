"""Benchmark a mass settle: how long one clock advance takes, and how long a poll waits meanwhile, per store.

For each store (memory, SQLite, Redis on its own redis-server on a free port): one `shuyou-mock serve` process,
`--tasks` creates, then `POST /_mock/clock/advance` (which settles them all) while another client polls one
task's `GET /v1/predictions/{id}` in a loop. Prints the advance's duration and the polls' slowest and median
answer during it: a slowest poll near the advance's duration means the settle held the event loop (as
`settle_overdue` did on Redis: 838 ms for 3,000 tasks, a poll waiting as long; 2026-12-07). `--before DIR`
runs another checkout the same way, right after, for a same-run comparison. Bounded: one advance per store
and tree, every request with a timeout.

    python bench/bench_settle.py [--tasks 3000] [--stores memory,sqlite,redis] [--before DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2
from bench_mock import free_port, wait_listening

ROOT = Path(__file__).resolve().parent.parent
BODY = {"model": "gemini-2.5-flash-image", "function": "image", "input": {"prompt": "a bench cat"}}
HEADERS = {"Authorization": "Bearer sk-bench"}


def one(tree: Path, store: str, tasks: int) -> tuple[float, float, float, int]:
    """(advance s, slowest poll s, median poll s, polls) for `tasks` creates then one advance on `store`."""
    port = free_port()
    cmd = [sys.executable, "-m", "mock_server", "serve", "--port", str(port), "--store", store]
    proc = subprocess.Popen(cmd, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port)
        base = f"http://127.0.0.1:{port}"
        with httpx2.Client(base_url=base, headers=HEADERS, timeout=60) as client:
            client.post("/_mock/reset")
            polled = client.post("/v1/predictions", json=BODY).json()["data"]["task_id"]
            for _ in range(tasks):
                client.post("/v1/predictions", json=BODY).raise_for_status()
            waits: list[float] = []
            stop = threading.Event()

            def poll() -> None:
                with httpx2.Client(base_url=base, headers=HEADERS, timeout=60) as poller:
                    while not stop.is_set():
                        started = time.perf_counter()
                        poller.get(f"/v1/predictions/{polled}").raise_for_status()
                        waits.append(time.perf_counter() - started)

            poller = threading.Thread(target=poll)
            poller.start()
            time.sleep(0.2)  # the poller is under way
            started = time.perf_counter()
            client.post("/_mock/clock/advance", json={"seconds": 60}).raise_for_status()
            advance = time.perf_counter() - started
            time.sleep(0.05)
            stop.set()
            poller.join(timeout=60)
            settled = client.get("/_mock/tasks", params={"status": "processing", "limit": 1}).json()["data"]
            if settled:
                raise SystemExit(f"{store}: a task is still processing after the advance")
        return advance, max(waits), statistics.median(waits), len(waits)
    finally:
        proc.kill()
        proc.wait()


def redis_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found (apt-get install -y redis-server)")
    port = free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port)
    return proc, f"redis://127.0.0.1:{port}/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--stores", default="memory,sqlite,redis")
    parser.add_argument("--before", type=Path, help="also run this checkout, right after each store's run")
    args = parser.parse_args()
    trees = [("this tree", ROOT), *((("before", args.before.resolve()),) if args.before else ())]
    print(f"{'store':8} {'tree':10} {'advance ms':>10} {'slowest poll ms':>16} {'median poll ms':>15} {'polls':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        redis_proc, redis_url = redis_server(Path(tmp)) if "redis" in args.stores else (None, "")
        try:
            for store in args.stores.split(","):
                for name, tree in trees:
                    url = {"memory": "memory", "redis": redis_url}.get(store, f"sqlite:///{tmp}/{name[:4]}.db")
                    advance, slowest, median, polls = one(tree, url, args.tasks)
                    row = f"{advance * 1e3:10.0f} {slowest * 1e3:16.1f} {median * 1e3:15.2f} {polls:6}"
                    print(f"{store:8} {name:10} {row}")
        finally:
            if redis_proc is not None:
                redis_proc.kill()
    print(f"{args.tasks} tasks created, then one POST /_mock/clock/advance (60 s) settles them all")


if __name__ == "__main__":
    main()
