from __future__ import annotations

import base64
from pathlib import Path

import pytest
from standin import API_KEY, Differences

from contracts.cli import main
from openapi.cassette import read_cassette


def test_record_against_the_mock_creates_one_task_per_function_and_polls_each_to_the_end(
    mock_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mock.cassette"
    assert main(["record", "--base-url", mock_url, "--api-key", API_KEY, "--out", str(out), "--seed", "1"]) == 0
    cassette = read_cassette(out)
    creates = [ex for ex in cassette.exchanges if ex.operation == "createPrediction"]
    assert [ex.status for ex in creates if ex.task] == [200, 200, 200]
    for task, exchanges in cassette.tasks().items():
        polls = [ex for ex in exchanges if ex.operation == "getPrediction"]
        assert polls[-1].response_body["data"]["task_status"] == "success", task
        assert [p.elapsed for p in polls] == sorted(p.elapsed or 0 for p in polls)
        assert any(ex.operation == "file" and ex.file and ex.file.size > 0 for ex in exchanges)
    assert "Recorded" in capsys.readouterr().out
    assert API_KEY not in out.read_text()


def test_record_spends_no_more_than_the_budget(
    mock_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b.cassette"
    args = ["record", "--base-url", mock_url, "--api-key", API_KEY, "--out", str(out), "--budget", "1"]
    assert main(args) == 0
    assert sum(ex.operation == "createPrediction" for ex in read_cassette(out).exchanges) == 1
    assert "1 billable call(s) accepted of 1; 2 refused" in capsys.readouterr().out


def test_a_dry_run_prints_the_plan_and_sends_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d.cassette"
    # port 9 on loopback: nothing listens, so any request would fail the run
    assert main(["record", "--base-url", "http://127.0.0.1:9", "--out", str(out), "--dry-run", "--seed", "1"]) == 0
    assert "3 createPrediction call(s)" in capsys.readouterr().out
    assert not out.exists()


def test_with_files_keeps_the_bytes_and_url_tokens_never_reach_the_cassette(record_standin) -> None:  # type: ignore[no-untyped-def]
    out = record_standin(Differences(), models=("gpt-image-2",), with_files=True)
    text = out.read_text()
    (file,) = [ex.file for ex in read_cassette(out).exchanges if ex.file is not None]
    assert file.content_type == "image/png"
    assert file.data is not None
    assert file.data.startswith(b"\x89PNG")
    assert base64.b64encode(file.data).decode() in text
    assert "t0k3n" not in text
    assert API_KEY not in text
