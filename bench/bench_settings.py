"""Benchmark: the in-house settings converter (`mock_server.convert`) against msgspec, in the same run.

Prints, for each: the import cost (`-X importtime` cumulative, in a fresh interpreter that has already
imported what the mock imports anyway, median of `--runs`), the time to read the `webhooks:` section
from environment text (the case both can do: msgspec cannot convert `re.Pattern`, so rules stay
in-house either way), and the message each gives for one bad value. msgspec is optional: without it
(`pip install msgspec`) only the in-house figures print.

    python bench/bench_settings.py [--runs 7] [--loops 2000]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mock_server.convert import convert  # noqa: E402
from mock_server.webhooks.settings import WebhookChaos, WebhookSettings  # noqa: E402

SECTION = {"max_attempts": "3", "timeout": "0.5", "intermediate": "true", "jitter": "0.1", "chaos": {"delay": "2"}}
BAD = {"max_attempts": "three"}


def import_ms(module: str, runs: int) -> float:
    """Cumulative import time of `module` itself (`python -X importtime`), after what the mock imports first."""

    def once() -> float:
        code = f"import mock_server.errors, mock_server.wire; import {module}"  # what convert needs is loaded anyway
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, cwd=ROOT)
        rows = [line.split("|") for line in out.stderr.splitlines() if line.rstrip().endswith(f" {module}")]
        return int(rows[-1][1]) / 1000

    return statistics.median(once() for _ in range(runs))


def per_call_us(fn: Callable[[], object], loops: int) -> float:
    start = time.perf_counter()
    for _ in range(loops):
        fn()
    return (time.perf_counter() - start) / loops * 1e6


def message(fn: Callable[[], object]) -> str:
    try:
        fn()
    except Exception as exc:  # both libraries' errors, as a user would read them
        return f"{type(exc).__name__}: {exc}"
    return "(accepted)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--loops", type=int, default=2000)
    args = parser.parse_args()
    print(f"convert.py: {len((ROOT / 'mock_server' / 'convert.py').read_text().splitlines())} lines")
    ours = import_ms("mock_server.convert", args.runs)
    print(f"import mock_server.convert: {ours:.2f} ms")
    here = per_call_us(lambda: convert(WebhookSettings, SECTION, "MOCK_WEBHOOKS", WebhookSettings()), args.loops)
    print(f"in-house: {here:.1f} us per webhooks section")
    print(f"in-house error: {message(lambda: convert(WebhookSettings, BAD, 'MOCK_WEBHOOKS', WebhookSettings()))}")
    try:
        import msgspec
    except ImportError:
        print("msgspec: not installed (pip install msgspec) - no comparison")
        return 0
    theirs = import_ms("msgspec", args.runs)
    print(f"import msgspec: {theirs:.2f} ms")

    def with_msgspec(data: dict[str, Any]) -> WebhookSettings:
        chaos = msgspec.convert(data.get("chaos", {}), WebhookChaos, strict=False)
        rest = {k: v for k, v in data.items() if k != "chaos"}
        return dataclasses.replace(msgspec.convert(rest, WebhookSettings, strict=False), chaos=chaos)

    there = per_call_us(lambda: with_msgspec(SECTION), args.loops)
    assert with_msgspec(SECTION) == convert(WebhookSettings, SECTION, "", WebhookSettings())
    print(f"msgspec:  {there:.1f} us per webhooks section (ratio in-house/msgspec {here / there:.2f}x)")
    print(f"msgspec error:  {message(lambda: with_msgspec(BAD))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
