from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from contract_mocks import KEY, SECRET

from contracts.cli import main
from contracts.serving import Served, serve_in_thread
from contracts.target import probe
from tests._support import free_port


class Recorder:
    """A target that records every request it gets (answers 404)."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def __call__(self, scope: dict[str, object], receive: object, send: object) -> None:
        if scope["type"] != "http":
            return
        self.requests.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 404, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]


def test_unreachable_target_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--base-url", f"http://127.0.0.1:{free_port()}", "--api-key", KEY])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("shuyou-contracts: error: cannot reach http://127.0.0.1:")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_dry_run_prints_the_plan_and_sends_nothing(served: list[Served], capsys: pytest.CaptureFixture[str]) -> None:
    recorder = Recorder()
    served.append(serve_in_thread(recorder))

    code = main(["run", "--base-url", served[0].base_url, "--api-key", KEY, "--dry-run", "--seed", "5"])

    out = capsys.readouterr().out
    assert code == 0
    assert recorder.requests == []
    assert "phases: examples, coverage, fuzzing, stateful, lifecycle" in out
    assert "createPrediction (POST /v1/predictions)" in out
    assert "billable calls at most: 5" in out


def test_budget_default_against_a_target_that_is_not_the_mock_is_5_and_said(
    served: list[Served], capsys: pytest.CaptureFixture[str]
) -> None:
    served.append(serve_in_thread(Recorder()))

    main(["run", "--base-url", served[0].base_url, "--api-key", KEY, "--phases", "lifecycle", "--timeout", "0"])

    captured = capsys.readouterr()
    assert "budget: at most 5 billable call(s), the default against a target that is not our mock" in captured.err


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--phases", "examples,warp"], id="unknown-phase"),
        pytest.param(["--budget", "-1"], id="negative-budget"),
        pytest.param(["--max-examples", "0"], id="zero-examples"),
    ],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "--base-url", "http://127.0.0.1:9", "--api-key", KEY, *argv])
    assert exc.value.code == 2


def test_unknown_model_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--base-url", "http://127.0.0.1:9", "--api-key", KEY, "--models", "no-such-model"])

    assert code == 2
    assert "unknown model(s) ['no-such-model']" in capsys.readouterr().err


def test_run_against_the_mock_writes_summary_json_and_junit(
    mock_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"

    code = main([
        "run", "--base-url", mock_url, "--api-key", KEY, "--webhook-secret", SECRET, "--seed", "11",
        "--phases", "examples,lifecycle", "--max-examples", "3", "--report", str(report), "--junit", str(junit),
    ])  # fmt: skip

    out = capsys.readouterr().out
    assert code == 0
    assert "Findings: none" in out
    assert "Seed: 11" in out
    assert "--seed 11" in out
    assert KEY not in out
    data = json.loads(report.read_text())
    assert data["exit_code"] == 0
    assert data["seed"] == 11
    assert data["target_is_mock"] is True
    assert {"operation": "createPrediction", "status": 200} in [
        {k: row[k] for k in ("operation", "status")} for row in data["statuses"]
    ]
    suite = ET.parse(junit).getroot()
    assert suite.get("failures") == "0"
    assert int(suite.get("tests", "0")) >= 5


def test_a_catch_all_200_is_not_taken_for_the_mock(served: list[Served]) -> None:
    async def html_everywhere(scope: dict[str, object], receive: object, send: object) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"<html>hello</html>"})  # type: ignore[operator]

    served.append(serve_in_thread(html_everywhere))

    assert probe(served[0].base_url).is_mock is False


def test_the_mock_is_recognised(mock_url: str) -> None:
    assert probe(mock_url).is_mock is True
