"""What the test tiers share: one bounded poll (`eventually`, and `until` in async tests), one port picker and
one way to run a private redis-server (`RedisProcess`).

Poll only for what another thread or process must catch up on (a socket round trip, a file the server notices on
its own); where the mock clock can be advanced, advance it instead. The deadline is only how long a failing test
waits, so it is generous for a loaded machine; the interval is what a passing test costs.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import anyio

__all__ = ["RedisProcess", "eventually", "free_port", "until"]


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


def task_reads(redis_url: str) -> int:
    """How many GETs the Redis server has run: the store reads a task with `GET t:<id>`, and nothing else with GET."""
    import redis

    with redis.Redis.from_url(redis_url) as server:
        return int(server.info("commandstats").get("cmdstat_get", {}).get("calls", 0))


def free_port() -> int:
    """A loopback port nothing listens on right now (bound, then released: also a port that refuses)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisProcess:
    """A redis-server (or valkey-server) on a free loopback port with its own dir and log, nothing saved.

    The session's shared server (`tests/conftest.py` `redis_server`) and a test's own, which it kills, stops
    and restarts (`test_redis_outage`), both start here. `start()` returns once the server answers PING;
    a server that exits first fails the test with the end of its log.
    """

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.base_url = f"redis://127.0.0.1:{self.port}"
        self.url = f"{self.base_url}/0"
        self.log = workdir / "server.log"
        self._args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(workdir)]
        self._args += ["--save", "", "--appendonly", "no"]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            proc = self.proc = subprocess.Popen(self._args, stdout=out, stderr=subprocess.STDOUT)

        def answers() -> bool:
            if proc.poll() is not None:
                tail = self.log.read_text(errors="replace").strip().splitlines()[-5:]
                raise AssertionError(
                    f"{self.binary} exited on port {self.port} (exit {proc.returncode}): "
                    + (" | ".join(tail) or "no output")
                )
            return self._pong()

        eventually(answers, timeout, interval=0.02)
        return proc

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def _signal(self, signum: int) -> None:
        assert self.proc is not None, "not started"
        self.proc.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL (stopped or not), and reap it."""
        self._signal(signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait(10)

    def stop(self) -> None:
        """SIGSTOP: the process and its connections stay, and nothing answers."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)
        assert self.proc is not None
        self.proc.wait(timeout=10)
