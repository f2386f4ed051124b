"""`python -m mock_server serve`: prints base URL, a working curl line and the control surface; serves it."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    config = tmp_path / "mock.yaml"
    config.write_text("rules:\n  - match: {prompt: fail-me}\n    outcome: failed\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mock_server",
            "serve",
            "--port",
            "0",
            "--time-scale",
            "0",
            "--seed",
            "1",
            "--config",
            str(config),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        base = lines[0].split(" on ", 1)[1].strip()
        yield base, lines
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_banner_curl_line_works(served: tuple[str, list[str]]) -> None:
    base, lines = served
    assert base.startswith("http://127.0.0.1:")
    curl = shlex.split(lines[1].split("try:", 1)[1])
    body = json.loads(curl[curl.index("-d") + 1])
    with httpx2.Client(base_url=base) as client:
        created = client.post("/v1/predictions", json=body, headers={"Authorization": "Bearer sk-test"})
        assert created.status_code == 200
        task = created.json()["data"]["task_id"]
        assert (
            client.get(f"/v1/predictions/{task}", headers={"Authorization": "Bearer sk-test"}).json()["data"][
                "task_status"
            ]
            == "success"
        )
        assert client.get("/_mock/health").json()["status"] == "ok"
    assert "/_mock/" in lines[3]


def test_config_rules_apply(served: tuple[str, list[str]]) -> None:
    base, _ = served
    body = {"model": "qwen3-tts-flash", "function": "audio", "input": {"prompt": "fail-me please", "voice": "Cherry"}}
    with httpx2.Client(base_url=base, headers={"Authorization": "Bearer k"}) as client:
        task = client.post("/v1/predictions", json=body).json()["data"]["task_id"]
        assert client.get(f"/v1/predictions/{task}").json()["data"]["task_status"] == "failed"


def test_bad_config_fails_at_startup_with_a_message(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("time_scale: fast\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mock_server", "serve", "--port", "0", "--config", str(config)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        timeout=30,
    )
    assert result.returncode == 2
    assert "time_scale='fast' is not a number" in result.stderr
