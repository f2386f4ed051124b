"""Benchmark: time from process start to the first answer of `python -m mock_server serve` (target < 0.5 s).

Each round starts a fresh process on 127.0.0.1:0, reads the port from the startup banner and sends
`GET /v1/credits` until one answers (the banner is printed once the socket listens, so the first try waits
in the backlog for uvicorn). The baseline, in the same run and alternating with it, is a bare Starlette app
with one route under the same uvicorn (`uvicorn.run` on a bound socket): the cost of the HTTP stack alone.
With `--before DIR` (a copy of an older tree, e.g. `git archive <rev> | tar -x -C DIR`) that tree's mock
runs in the same rounds too, so the figures print as before/after.

    python bench/bench_startup.py [--rounds 7] [--before DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_mock import cpu_seconds  # bench/ is on sys.path: one /proc reader for every bench

ROOT = Path(__file__).resolve().parent.parent
BARE = """
import socket, sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def credits(request):
    return JSONResponse({"data": {"total_credits": 1, "total_usage": 0, "balance": 1}})

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
sock.bind(("127.0.0.1", 0))
sock.listen(128)
print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
app = Starlette(routes=[Route("/v1/credits", credits)])
uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
"""
REQUEST = b"GET /v1/credits HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-bench\r\nConnection: close\r\n\r\n"
DEADLINE = 20.0


def first_answer(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process) from spawning `argv` to its first HTTP answer."""
    started = time.perf_counter()
    # cwd is the tree itself: `python -m` puts the cwd first on sys.path, ahead of PYTHONPATH
    cwd = env.get("PYTHONPATH") or str(ROOT)
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True, cwd=cwd)
    try:
        assert process.stdout is not None
        port = None
        while port is None:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"{argv} exited before printing its address")
            found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            port = int(found.group(1)) if found else None
        while time.perf_counter() - started < DEADLINE:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as conn:
                    conn.sendall(REQUEST)
                    if conn.recv(64).startswith(b"HTTP/1.1 200"):
                        return time.perf_counter() - started, cpu_seconds(process.pid)
            except OSError:
                time.sleep(0.002)  # a real process must catch up: a bounded poll
        raise RuntimeError(f"{argv} gave no answer within {DEADLINE} s")
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--before", type=Path, default=None, help="an older tree whose mock to time alongside")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    mock = [sys.executable, "-m", "mock_server", "serve", "--host", "127.0.0.1", "--port", "0"]
    runs: dict[str, tuple[list[str], dict[str, str]]] = {
        "bare uvicorn + Starlette": ([sys.executable, "-c", BARE], env),
        "mock (this tree)": (mock, {**env, "PYTHONPATH": str(ROOT)}),
    }
    if args.before is not None:
        runs["mock (before)"] = (mock, {**env, "PYTHONPATH": str(args.before.resolve())})
    for argv, run_env in runs.values():  # warm the OS file cache and the .pyc files once, untimed
        first_answer(argv, run_env)
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, (argv, run_env) in runs.items():
            wall, used = first_answer(argv, run_env)
            times[name].append(wall)
            cpu[name].append(used)
    print(f"process start -> first answer, median of {args.rounds} alternating rounds (min-max):")
    for name in runs:
        wall, used = times[name], cpu[name]
        print(
            f"  {name:<26} wall {statistics.median(wall):.3f} s ({min(wall):.3f}-{max(wall):.3f})"
            f"  process CPU {statistics.median(used):.3f} s ({min(used):.3f}-{max(used):.3f})"
        )
    bare = statistics.median(times["bare uvicorn + Starlette"])
    bare_cpu = statistics.median(cpu["bare uvicorn + Starlette"])
    for name in [n for n in runs if n.startswith("mock")]:
        median = statistics.median(times[name])
        verdict = "meets" if median < 0.5 else "misses"
        print(
            f"  {name}: wall {median / bare:.2f}x, CPU {statistics.median(cpu[name]) / bare_cpu:.2f}x the bare stack;"
            f" {verdict} the 0.5 s wall target (load {os.getloadavg()[0]:.1f})"
        )


if __name__ == "__main__":
    main()
