"""A real `python -m mock_server serve`: its banner's curl key works with `keys` set; Ctrl-C stops it cleanly."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parents[2]


def _start(tmp_path: Path, config: str) -> subprocess.Popen[str]:
    path = tmp_path / "mock.yaml"
    path.write_text(config, encoding="utf-8")
    argv = [sys.executable, "-m", "mock_server", "serve", "--port", "0", "--time-scale", "0", "--config", str(path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def test_banner_curl_sends_a_configured_key_and_ctrl_c_exits_0_without_traceback(tmp_path: Path) -> None:
    proc = _start(tmp_path, "keys: [sk-configured, sk-other]\n")
    try:
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
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "KeyboardInterrupt" not in stderr
    assert "Finished server process" in stderr  # uvicorn's own clean shutdown ran
