"""Real mock processes (`python -m mock_server serve`) that tests kill with SIGKILL and start again."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

from contracts.receiver import WebhookReceiver
from mock_server.webhooks.settings import DEV_SECRET

KEY = "sk-durable"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def eventually(
    predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition", every: float = 0.05
) -> None:
    """Poll `predicate` until true (a real process must catch up); fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not met within {timeout} s"
        threading.Event().wait(every)


@dataclass
class MockProcess:
    """One `shuyou-mock serve` process on a free port; `kill()` sends SIGKILL."""

    store: str
    args: Sequence[str] = ()
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: str = ""

    def start(self) -> MockProcess:
        cmd = [sys.executable, "-m", "mock_server", "serve", "--port", str(self.port), "--store", self.store]
        env = {**os.environ, "MOCK_KEYS": KEY, "MOCK_DEFAULT_BALANCE": "100000"}
        with tempfile.NamedTemporaryFile("wb", prefix="mock-", suffix=".log", delete=False) as log:
            self.log = log.name
            self.proc = subprocess.Popen(  # its own process group, so that a kill reaches `--workers` children too
                [*cmd, *self.args], env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
            )
        eventually(self._up, what=f"mock on port {self.port} answers /_mock/health")
        return self

    def _up(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            with open(self.log, "rb") as log:
                err = log.read().decode(errors="replace")
            raise AssertionError(f"the mock process exited with {self.proc.returncode}: {err[-2000:]}")
        try:
            return httpx2.get(f"{self.url}/_mock/health", timeout=1).status_code == 200
        except httpx2.TransportError:
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, timeout: float = 30.0) -> httpx2.Client:
        return httpx2.Client(base_url=self.url, headers={"authorization": f"Bearer {KEY}"}, timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the process and every worker it started (its process group)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        if self.log:
            os.unlink(self.log)
            self.log = ""


@pytest.fixture
def processes() -> Iterator[Callable[..., MockProcess]]:
    """`processes(store, *args)` starts a mock process; all are killed at the end of the test."""
    started: list[MockProcess] = []

    def start(store: str, *args: str) -> MockProcess:
        started.append(MockProcess(store, args).start())
        return started[-1]

    yield start
    for p in started:
        p.kill()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver([DEV_SECRET], validate=False) as r:
        yield r


def all_deliveries(client: httpx2.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get("/_mock/webhooks").json()["deliveries"]
    return found
