"""Benchmark: idle CPU of `serve --watch` (a stat poll twice a second) against the same mock without it.

Both servers start in the same run, side by side, each on a free loopback port with the same config file,
and sit idle for `--seconds`; each one's CPU time (utime + stime from /proc, after startup) is printed with
the difference per minute. Nothing is sent to them but one health check each.

    python bench/bench_watch.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_mock import cpu_seconds  # bench/ is on sys.path: one /proc reader for every bench

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def start(config: Path, watch: bool) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "mock_server", "serve", "--port", "0", "--config", str(config)]
    proc = subprocess.Popen(
        [*command, *(["--watch"] if watch else [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    base = proc.stdout.readline().split(" on ", 1)[1].strip()
    return proc, base


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "mock.yaml"
        config.write_text("failure_probability: 0\n", encoding="utf-8")
        servers = {watch: start(config, watch) for watch in (False, True)}
        try:
            for _, base in servers.values():
                urllib.request.urlopen(f"{base}/_mock/health", timeout=30).read()  # up and past startup
            before = {watch: cpu_seconds(proc.pid) for watch, (proc, _) in servers.items()}
            time.sleep(args.seconds)  # the thing measured is what an idle server does over wall time
            spent = {watch: cpu_seconds(proc.pid) - before[watch] for watch, (proc, _) in servers.items()}
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(10)
    per_minute = 60.0 / args.seconds
    print(f"idle {args.seconds:g} s, CPU resolution {1000 / TICK:g} ms")
    print(f"  without --watch: {spent[False] * 1000:.0f} ms CPU ({spent[False] * per_minute * 1000:.0f} ms/min)")
    print(f"  with --watch:    {spent[True] * 1000:.0f} ms CPU ({spent[True] * per_minute * 1000:.0f} ms/min)")
    print(f"  difference:      {(spent[True] - spent[False]) * per_minute * 1000:+.0f} ms CPU per minute")


if __name__ == "__main__":
    main()
