"""Time the harness's default run against a local mock: total, and the split across phases (target < 60 s).

.venv/bin/python bench/bench_contracts.py [--seed N]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from contracts.runner import Options, run
from mock_server import FakeClock, Settings, create_app
from mock_server.testing import serve_in_thread

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    app = create_app(Settings(seed=args.seed, webhook_secret=SECRET), clock=FakeClock(1_700_000_000.0))
    live = serve_in_thread(app)
    try:
        started = time.perf_counter()
        result = run(
            Options(base_url=live.base_url, api_key="sk-bench", seed=args.seed, webhook_secret=SECRET),
            progress=lambda _: None,
        )
        total = time.perf_counter() - started
    finally:
        live.stop()
    requests = sum(result.statuses.values())
    print(
        f"harness default run against the local mock ({platform.machine()}, {os.cpu_count()} cores, seed {args.seed})"
    )
    print(
        f"  total        {total:6.1f} s   ({requests} requests, {result.budget_spent} billable, "
        f"{len(result.findings)} findings)"
    )
    for phase, seconds in result.timings.items():
        print(f"  {phase:<12} {seconds:6.1f} s")
    other = total - sum(result.timings.values())
    print(f"  setup/other  {other:6.1f} s   (probe, gate, receiver, schema load)")
    print(f"  target < 60 s: {'met' if total < 60 else 'MISSED'}")


if __name__ == "__main__":
    main()
