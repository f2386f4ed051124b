from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx2

import openapi
from contracts.cli import main
from mock_server.app import create_app
from mock_server.settings import Settings
from mock_server.testing import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "sample.cassette"


def test_the_sample_cassette_is_current_with_the_specs_examples() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "gen_sample_cassette.py"), "--check"], capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_the_sample_cassette_shows_no_drift_against_the_mock() -> None:
    assert main(["drift", str(SAMPLE)]) == 0


def test_the_mock_replaying_the_sample_answers_the_documented_examples() -> None:
    examples = openapi.examples()
    request = {k: v for k, v in examples["create-prediction.image"].items() if k != "webhook"}
    documented = examples["prediction.success_image"]
    with (
        serve_in_thread(create_app(Settings(replay=str(SAMPLE), replay_strict=True))) as live,
        httpx2.Client(base_url=live.base_url, headers={"Authorization": "Bearer sk-test"}) as client,
    ):
        task_id = client.post("/v1/predictions", json=request).json()["data"]["task_id"]
        client.post("/_mock/clock/advance", json={"seconds": 15}).raise_for_status()
        body = client.get(f"/v1/predictions/{task_id}").json()
    assert body["usage"] == documented["usage"]
    assert body["data"]["task_status"] == "success"
    assert body["request_id"] == documented["request_id"]
