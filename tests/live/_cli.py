"""`python -m mock_server serve ...` as a child process, for the tests that need the real CLI."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def served(*args: str, env: dict[str, str] | None = None, stderr: IO[str] | None = None) -> Iterator[str]:
    """Start `serve --port 0 *args`, yield the base URL from its banner, terminate it afterwards; its log goes to
    `stderr` (a file) if given."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_server", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=stderr if stderr is not None else subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().split(" on ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
