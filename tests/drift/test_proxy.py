from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from standin import API_KEY, Differences, StandinClock, create_standin

from contracts.cli import main
from mock_server.proxy import RecordingProxy
from mock_server.testing import serve_in_thread
from openapi.cassette import CassetteWriter, read_cassette

BODY = {
    "model": "gpt-image-2",
    "function": "image",
    "input": {"prompt": "a lighthouse"},
    "webhook": "https://hooks.example/cb?token=hook-tok-77",
}


def test_the_proxy_forwards_records_and_logs_each_spec_violation_at_once(tmp_path: Path) -> None:
    clock, logged = StandinClock(), []
    out = tmp_path / "proxy.cassette"
    with (
        serve_in_thread(create_standin(clock, Differences(integer_code=True, queued=True))) as target,
        serve_in_thread(RecordingProxy(target.base_url, CassetteWriter(out), log=logged.append)) as proxy,
        httpx2.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {API_KEY}"}) as client,
    ):
        created = client.post("/v1/predictions", json=BODY)
        task_id = created.json()["data"]["task_id"]
        assert created.json()["data"]["task_status"] == "queued"  # the target's answer, unchanged
        assert len(logged) == 1
        assert "createPrediction): body at /data/task_status" in logged[0]  # logged before the next request
        clock.advance(30)
        polled = client.get(f"/v1/predictions/{task_id}")
        assert polled.json()["code"] == 0
        assert any("getPrediction): body at /code" in line for line in logged[1:])
    cassette = read_cassette(out)
    assert [(ex.operation, ex.status, ex.task) for ex in cassette.exchanges] == [
        ("createPrediction", 200, task_id),
        ("getPrediction", 200, task_id),
    ]
    assert cassette.exchanges[1].elapsed is not None
    text = out.read_text()
    assert API_KEY not in text
    assert "hook-tok-77" not in text
    assert "t0k3n" not in text  # the result file URL's token


def test_a_proxy_recording_drifts_like_a_recorded_plan(mock_url: str, tmp_path: Path) -> None:
    clock, out = StandinClock(), tmp_path / "client.cassette"
    with (
        serve_in_thread(create_standin(clock, Differences(extra_field=True, slower=3.0))) as target,
        serve_in_thread(
            RecordingProxy(target.base_url, CassetteWriter(out, source=target.base_url), log=print, clock=clock)
        ) as proxy,
        httpx2.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {API_KEY}"}) as client,
    ):
        task_id = client.post("/v1/predictions", json=BODY).json()["data"]["task_id"]
        for _ in range(6):  # a client of its own, polling every 5 s
            clock.advance(5)
            client.get(f"/v1/predictions/{task_id}")
    report = tmp_path / "drift.json"
    assert main(["drift", str(out), "--against", mock_url, "--json", str(report)]) == 1
    named = {(d["category"], d["subject"]) for d in json.loads(report.read_text())["differences"]}
    assert named == {("fields", "/data/created_at"), ("timing", "image")}


def test_shuyou_mock_proxy_serves_on_the_given_port_and_writes_the_cassette(tmp_path: Path) -> None:
    out = tmp_path / "cli.cassette"
    with serve_in_thread(create_standin(StandinClock())) as target:
        command = [sys.executable, "-m", "mock_server", "proxy", "--target", target.base_url, "--record", str(out)]
        process = subprocess.Popen([*command, "--port", "0"], stdout=subprocess.PIPE, text=True)
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()
            url = banner.split("listening on ")[1].strip()
            answer = httpx2.get(f"{url}/v1/credits", headers={"Authorization": "Bearer sk-x"}, timeout=10)
            assert answer.json() == {"data": {"total_credits": 100, "total_usage": 25, "balance": 75}}
            process.terminate()  # SIGTERM: a clean stop, exit 0 (not 143)
            process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)
    assert process.returncode == 0
    assert [ex.operation for ex in read_cassette(out).exchanges] == ["getCredits"]


def test_a_target_that_does_not_answer_gets_a_502_in_the_error_envelope(tmp_path: Path) -> None:
    logged: list[str] = []
    proxy_app = RecordingProxy("http://127.0.0.1:9", CassetteWriter(tmp_path / "x.cassette"), log=logged.append)
    with serve_in_thread(proxy_app) as proxy:
        answer = httpx2.get(f"{proxy.base_url}/v1/credits", timeout=10)
    assert answer.status_code == 502
    assert answer.json()["error"]["message"].startswith("proxy: http://127.0.0.1:9 did not answer GET /v1/credits")
    assert logged == [answer.json()["error"]["message"]]


def test_a_target_that_is_not_a_url_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mock_server", "proxy", "--target", "api.shuyou.ai", "--record", "x"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "is not an http(s) URL" in done.stderr


@pytest.mark.parametrize("missing", ["--target", "--record"])
def test_proxy_needs_a_target_and_a_cassette(missing: str) -> None:
    args = {"--target": "http://127.0.0.1:9", "--record": "x.cassette"}
    args.pop(missing)
    done = subprocess.run(
        [sys.executable, "-m", "mock_server", "proxy", *[p for kv in args.items() for p in kv]],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert missing in done.stderr
