"""What the test tiers share: one bounded poll (`eventually`, and `until` in async tests) and one port picker.

Poll only for what another thread or process must catch up on (a socket round trip, a file the server notices on
its own); where the mock clock can be advanced, advance it instead. The deadline is only how long a failing test
waits, so it is generous for a loaded machine; the interval is what a passing test costs.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import anyio

__all__ = ["eventually", "free_port", "until"]


def eventually(predicate: Callable[[], bool], timeout: float = 20.0, *, interval: float = 0.01) -> None:
    """Return once `predicate()` is true; fail the test when it is still false after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"condition not met within {timeout} s"
        time.sleep(interval)


async def until(predicate: Callable[[], bool], timeout: float = 10.0, *, interval: float = 0.002) -> None:
    """`eventually` for async tests: poll without blocking the event loop; TimeoutError after `timeout` seconds."""
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(interval)


def free_port() -> int:
    """A loopback port nothing listens on right now (bound, then released: also a port that refuses)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
