"""Benchmark: the mock vs a bare Starlette app with the same two routes returning fixed JSON.

Each server runs in its own process under one uvicorn worker on 127.0.0.1; one load generator drives both in
the same run over keep-alive connections: Debian's `wrk` (C) when it is installed, else a small asyncio HTTP/1.1
generator (`--generator python`), which costs about as much CPU per request as the server it drives.
Prints requests/s for POST create and GET of an existing task, and the mock/bare ratio (target >= 0.8, issue
9), plus each server's CPU time per request (from /proc), whose ratio is steadier when other work shares the
machine. With 2 or more cores the servers run on one core and the generator on the others (`pin_cores`).

    python bench/bench_mock.py [--requests 3000] [--seconds 1.5] [--rounds 5] [--connections 16] [--before DIR]
                              [--generator auto|wrk|python] [--pin auto|off]

`--before DIR` serves a third target, the mock from another checkout (e.g. a `git worktree` of main), in
the same alternating rounds, and prints this tree's CPU per request against it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BODY = json.dumps(
    {"model": "gemini-2.5-flash-image", "function": "image", "input": {"prompt": "A bench cat", "aspect_ratio": "1:1"}}
).encode()
CREATED = {"data": {"task_id": "2c4d50261173430290971a2395a3b607", "task_status": "processing"}}
POLLED = {
    "code": "0",
    "usage": {"upstream_cost": 0.039, "discount": 0.00975, "discount_percent": 0.75, "cost": 0.02925},
    "data": {
        "task_id": "fa746cb19082452b82fea4f496f4065a",
        "task_status": "success",
        "output": [
            {"type": "image", "image": "http://127.0.0.1/files/fa746cb19082452b82fea4f496f4065a/0.png?e=1&token=x"}
        ],
    },
    "request_id": "8bd6b5784a1e42b79bf172607f476f56",
}


def bare_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def create(request):  # type: ignore[no-untyped-def]
        return JSONResponse(CREATED)

    async def get(request):  # type: ignore[no-untyped-def]
        return JSONResponse(POLLED)

    return Starlette(
        routes=[
            Route("/v1/predictions", create, methods=["POST"]),
            Route("/v1/predictions/{prediction_id}", get, methods=["GET"]),
        ]
    )


def serve(kind: str) -> None:
    import uvicorn

    if kind == "bare":
        app = bare_app()
    else:
        from mock_server.app import create_app
        from mock_server.settings import Settings

        app = create_app(Settings())  # the defaults a user gets: real time scale, memory store, journal on
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY on accepted sockets
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")).run(sockets=[sock])


def free_port() -> int:
    """A loopback port nothing listens on now (for a server started as a child process)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, timeout: float = 60.0) -> None:
    """Until a server accepts on `port` (uvicorn prints it before it starts; slower on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing listens on port {port} after {timeout:g} s") from None
            time.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), so a round's server CPU per request can be compared too."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request_bytes(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-bench\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes) -> bytes:
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"unexpected answer: {head[:60]!r} {body[:200]!r}")
    return body


async def load(port: int, payload: bytes, total: int, seconds: float, connections: int) -> tuple[int, float]:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while done < total and time.perf_counter() < deadline:
                await _one(reader, writer, payload)
                done += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return done, time.perf_counter() - start


WRK = shutil.which("wrk")  # Debian's wrk: apt-get install -y wrk
GENERATORS = ("auto", "wrk", "python")


def generator_for(choice: str) -> str:
    """`auto` is wrk when it is installed, else the asyncio generator above (and says how to get wrk)."""
    if choice == "wrk" and WRK is None:
        raise SystemExit("--generator wrk: wrk not found (apt-get install -y wrk)")
    if choice == "auto":
        if WRK is None:
            print("load generator: python (asyncio); for the C one: apt-get install -y wrk", flush=True)
            return "python"
        return "wrk"
    return choice


def _wrk_script(payload: bytes) -> str:
    """The Lua that makes wrk send `payload` (a request built by `request_bytes`) as every request."""
    head, _, body = payload.partition(b"\r\n\r\n")
    request_line, *lines = head.decode().split("\r\n")
    method, path, _ = request_line.split(" ")
    out = [f"wrk.method = {json.dumps(method)}", f"wrk.path = {json.dumps(path)}"]
    if body:
        out.append(f"wrk.body = {json.dumps(body.decode())}")
    for line in lines:
        name, _, value = line.partition(": ")
        if name.lower() not in ("host", "content-length"):  # wrk sends both itself
            out.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    return "\n".join(out) + "\n"


def wrk_load(
    port: int, payload: bytes, seconds: float, connections: int, cpus: set[int] | None = None
) -> tuple[int, float, float]:
    """(requests answered, elapsed s, wrk's CPU s): one wrk thread with `connections` keep-alive connections.

    wrk is C: it spends a few us of CPU per request where the asyncio generator spends 40-60 us (bench_store's
    CPU split, 2026-12-02), so on 2 cores it leaves the CPU to the servers being measured. Its time bound is
    its own `-d` (whole seconds): it stops by itself. Any non-2xx answer or socket error fails the round.
    `cpus`: the cores wrk may run on (`pin_cores`).
    """
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_wrk_script(payload))
    try:
        cmd = [str(WRK), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", f.name]
        proc = subprocess.Popen(
            [*cmd, f"http://127.0.0.1:{port}/"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_pinned_to(cpus),
        )
        out = proc.stdout.read().decode()  # type: ignore[union-attr]
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        os.unlink(f.name)
    found = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if status != 0 or found is None:
        raise RuntimeError(f"wrk failed: {out}")
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors or non-2xx answers: {out}")
    elapsed = float(found[2]) * {"ms": 0.001, "s": 1.0, "m": 60.0}[found[3]]
    return int(found[1]), elapsed, usage.ru_utime + usage.ru_stime


def drive(
    generator: str,
    port: int,
    payload: bytes,
    total: int,
    seconds: float,
    connections: int,
    cpus: set[int] | None = None,
) -> tuple[int, float, float]:
    """One load round with `generator` ('wrk' or 'python'): (requests answered, elapsed s, generator CPU s).

    `total` bounds the python generator only; wrk is bounded by time alone. `cpus`: wrk's cores (`pin_cores`;
    the python generator runs in this process, which `main` pins itself).
    """
    if generator == "wrk":
        return wrk_load(port, payload, seconds, connections, cpus)
    cpu = time.process_time()
    done, elapsed = asyncio.run(load(port, payload, total, seconds, connections))
    return done, elapsed, time.process_time() - cpu


PINS = ("auto", "off")


def pin_cores(choice: str) -> tuple[set[int], set[int]] | None:
    """(the servers' core, the load generator's cores), or None: `--pin off`, or fewer than 2 cores to use.

    On 2 shared cores the scheduler often wakes wrk on the core of the server it answers, which then pays a
    context switch per write: in `perf record` of the mock serving GETs, 22 % of its samples were in
    `finish_task_switch` (under `write`), and almost none of the bare app's (2026-12-02). Which server pays
    more depends on how busy it is, so the ratio measured the scheduler as much as the code. Each server on one
    core and the generator on the others, as on separate machines, takes that out; `--pin off` measures the
    unpinned case.
    """
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if choice == "off" or len(cores) < 2:
        return None
    return {cores[0]}, set(cores[1:])


def _pinned_to(cpus: set[int] | None) -> Any:
    """A `preexec_fn` that pins the child to `cpus` (None: no pinning)."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


async def first_task_id(port: int) -> str:
    """A finished task (X-Mock-Duration: 0), so every GET renders outputs, signed URLs and usage."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = request_bytes("POST", "/v1/predictions", BODY).replace(b"\r\n\r\n", b"\r\nX-Mock-Duration: 0\r\n\r\n", 1)
    body = await _one(reader, writer, payload)
    writer.close()
    return str(json.loads(body)["data"]["task_id"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per target, route and round")
    parser.add_argument("--seconds", type=float, default=1.5, help="time bound per target, route and round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per route; the median is reported")
    parser.add_argument("--before", type=Path, help="also serve the mock from this checkout (same rounds)")
    parser.add_argument(
        "--generator", choices=GENERATORS, default="auto", help="wrk (C; the default when installed) or python"
    )
    parser.add_argument(
        "--pin", choices=PINS, default="auto", help="auto: servers on one core, the load generator on the rest"
    )
    parser.add_argument("--serve", choices=["bare", "mock"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    generator = generator_for(args.generator)
    pins = pin_cores(args.pin)
    server_cpus, generator_cpus = pins if pins is not None else (None, None)
    if generator_cpus is not None and generator == "python":
        os.sched_setaffinity(0, generator_cpus)  # the asyncio generator runs here
    trees = {"bare": ROOT, "mock": ROOT, **({"before": args.before.resolve()} if args.before else {})}
    procs = {
        k: subprocess.Popen(
            [sys.executable, __file__, "--serve", "bare" if k == "bare" else "mock"],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(tree)},
            cwd=tree,
            preexec_fn=_pinned_to(server_cpus),
        )
        for k, tree in trees.items()
    }
    try:
        ports = {k: int(p.stdout.readline()) for k, p in procs.items()}  # type: ignore[union-attr]
        for port in ports.values():
            wait_listening(port)
        rates: dict[tuple[str, str], list[float]] = {}
        cpu: dict[tuple[str, str], list[float]] = {}
        for route in ("create", "get"):
            payloads = {}
            for kind, port in ports.items():
                if route == "create":
                    payloads[kind] = request_bytes("POST", "/v1/predictions", BODY)
                else:
                    task = asyncio.run(first_task_id(port)) if kind != "bare" else CREATED["data"]["task_id"]
                    payloads[kind] = request_bytes("GET", f"/v1/predictions/{task}")
                asyncio.run(load(port, payloads[kind], 300, 2.0, args.connections))  # warm-up
            for _ in range(args.rounds):  # alternate short rounds so background load hits both alike
                for kind, port in ports.items():
                    before = cpu_seconds(procs[kind].pid)
                    done, elapsed, _ = drive(
                        generator, port, payloads[kind], args.requests, args.seconds, args.connections, generator_cpus
                    )
                    rates.setdefault((kind, route), []).append(done / elapsed)
                    cpu.setdefault((kind, route), []).append((cpu_seconds(procs[kind].pid) - before) / done * 1e6)
        print(
            f"{'route':<8}{'bare req/s':>12}{'mock req/s':>12}{'ratio':>8}"
            f"{'bare CPU us/req':>17}{'mock CPU us/req':>17}{'CPU ratio':>11}"
        )
        for route in ("create", "get"):
            bare, mock = statistics.median(rates[("bare", route)]), statistics.median(rates[("mock", route)])
            bare_cpu, mock_cpu = statistics.median(cpu[("bare", route)]), statistics.median(cpu[("mock", route)])
            print(
                f"{route:<8}{bare:>12.0f}{mock:>12.0f}{mock / bare:>8.2f}{bare_cpu:>17.0f}{mock_cpu:>17.0f}"
                f"{bare_cpu / mock_cpu:>11.2f}"
            )
        if args.before:
            for route in ("create", "get"):
                before_cpu = statistics.median(cpu[("before", route)])
                mock_cpu = statistics.median(cpu[("mock", route)])
                before = statistics.median(rates[("before", route)])
                print(
                    f"{route}: before ({args.before}) {before:.0f} req/s, {before_cpu:.0f} us CPU/req; this tree "
                    f"{statistics.median(rates[('mock', route)]):.0f} req/s, {mock_cpu:.0f} us "
                    f"(CPU {before_cpu / mock_cpu:.2f}x less)"
                )
        pinned = f"servers on core {sorted(pins[0])}, generator on {sorted(pins[1])}" if pins else "not pinned"
        print(
            f"load generator {generator} ({pinned}), {args.connections} connections; medians of {args.rounds} "
            "alternating rounds; 'CPU ratio' = bare/mock server CPU per request "
            "(the throughput ratio a saturated server would reach, less sensitive to other load on the machine)"
        )
    finally:
        for p in procs.values():
            p.terminate()
            p.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
