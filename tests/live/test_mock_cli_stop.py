"""A real `python -m mock_server serve`: the banner's curl key works with `keys` set; Ctrl-C and SIGTERM exit 0."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests._support import eventually

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def _running(*args: str) -> Iterator[subprocess.Popen[str]]:
    argv = [sys.executable, "-m", "mock_server", "serve", "--port", "0", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def _stop(proc: subprocess.Popen[str], signum: int) -> str:
    """Send `signum` (a real signal), wait for the exit; stderr."""
    proc.send_signal(signum)
    return proc.communicate(timeout=30)[1]


def test_banner_curl_sends_a_configured_key_and_ctrl_c_exits_0_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "mock.yaml"
    config.write_text("keys: [sk-configured, sk-other]\n", encoding="utf-8")
    with _running("--time-scale", "0", "--config", str(config)) as proc:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        base = lines[0].split(" on ", 1)[1].strip()
        curl = shlex.split(lines[1].split("try:", 1)[1])
        header = curl[curl.index("-H") + 1]
        assert header == "Authorization: Bearer sk-configured"
        name, _, value = header.partition(": ")
        body = json.loads(curl[curl.index("-d") + 1])
        with httpx2.Client(base_url=base) as client:
            assert client.post("/v1/predictions", json=body, headers={name: value}).status_code == 200
            poll = shlex.split(lines[2].split("poll:", 1)[1])
            assert poll[poll.index("-H") + 1] == header
            assert client.get("/v1/credits", headers={"Authorization": "Bearer sk-test"}).status_code == 401
        stderr = _stop(proc, signal.SIGINT)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "KeyboardInterrupt" not in stderr
    assert "Finished server process" in stderr  # uvicorn's own clean shutdown ran


def _answers(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=10).status_code == 200
    except httpx2.TransportError:  # --workers: the supervisor's socket listens once a worker has started
        return False


@pytest.mark.parametrize(
    "args",
    [
        pytest.param((), id="one-worker"),
        pytest.param(("--workers", "2", "--store", "sqlite:///{db}"), id="two-workers"),
    ],
)
def test_sigterm_after_a_graceful_shutdown_exits_0(tmp_path: Path, args: tuple[str, ...]) -> None:
    with _running(*(a.format(db=tmp_path / "mock.db") for a in args)) as proc:
        assert proc.stdout is not None
        base = proc.stdout.readline().split(" on ", 1)[1].strip()
        eventually(lambda: _answers(f"{base}/_mock/health"))  # uvicorn is serving (a worker, with --workers)
        stderr = _stop(proc, signal.SIGTERM)
    assert proc.returncode == 0, stderr  # not 143 (-SIGTERM): uvicorn re-raises the signal after shutting down
    assert "Traceback" not in stderr
    assert "Application shutdown complete" in stderr  # the lifespan's shutdown ran (store closed, journal flushed)
