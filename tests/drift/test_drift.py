from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from standin import API_KEY, Differences

from contracts.cli import main

# Each named difference of the stand-in, and exactly what the drift report must say about it.
EXPECTED = {
    "extra_field": {("fields", "/data/created_at")},
    # a create answered `queued` breaks the status enum and the rule that a new task is `processing`
    "queued": {("contract", "task_status"), ("contract", "created_processing"), ("enum", "/data/task_status")},
    "integer_code": {("types", "/code"), ("assumption", "envelope")},
    "error_type": {("contract", "error_type"), ("enum", "/error/type")},
    "no_request_id": {("headers", "X-ShuYou-RequestId"), ("assumption", "request_id_header")},
    "slower": {("timing", "image"), ("timing", "video")},
}


def _drift(cassette: Path, tmp_path: Path, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    report = tmp_path / "drift.json"
    code = main(["drift", str(cassette), "--json", str(report), *extra])
    return code, json.loads(report.read_text())


def _named(report: dict) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(d["category"], d["subject"]) for d in report["differences"]}


def test_record_then_drift_on_the_mocks_own_traffic_reports_nothing(
    mock_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = tmp_path / "mock.cassette"
    assert main(["record", "--base-url", mock_url, "--api-key", API_KEY, "--out", str(cassette), "--seed", "2"]) == 0
    code, report = _drift(cassette, tmp_path)  # against a mock the command starts itself
    assert (code, report["differences"]) == (0, [])
    assert [row["differs"] for row in report["timing"]] == [False, False, False]
    assert "NO DRIFT" in capsys.readouterr().out


def test_a_stand_in_that_answers_like_the_docs_shows_no_drift(record_standin, mock_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, report = _drift(record_standin(Differences()), tmp_path, "--against", mock_url)
    assert (code, report["differences"]) == (0, [])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_named_difference_is_reported_and_nothing_else(
    record_standin, mock_url: str, tmp_path: Path, name: str
) -> None:  # type: ignore[no-untyped-def]
    differences = Differences(**{name: 3.0 if name == "slower" else True})
    code, report = _drift(record_standin(differences), tmp_path, "--against", mock_url)
    assert code == 1
    assert _named(report) == EXPECTED[name]


def test_all_differences_at_once_give_the_summary_junit_and_the_config_that_would_match(
    record_standin,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    cassette = record_standin(Differences.all())
    junit = tmp_path / "drift.xml"
    code, report = _drift(cassette, tmp_path, "--junit", str(junit))
    assert code == 1
    assert _named(report) == set().union(*EXPECTED.values())
    out = capsys.readouterr().out
    assert out.index("break the documented contract") < out.index("Processing times differ")
    assert "durations:\n    image: 22.5\n    video: 172.5" in out
    failed = {case.get("name") for case in ET.parse(junit).getroot() if case.find("failure") is not None}
    assert failed == {category for category, _ in _named(report)}
    # The suggested lines, given to the mock, remove the timing drift (and only that).
    config = tmp_path / "durations.yaml"
    config.write_text(report["suggested_config"] + "\n")
    _, again = _drift(cassette, tmp_path, "--mock-args", f"--config {config}")
    assert _named(again) == set().union(*EXPECTED.values()) - EXPECTED["slower"]


def test_a_cassette_that_is_not_one_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.cassette"
    bad.write_text("not json\n")
    assert main(["drift", str(bad)]) == 2
    assert "not JSON" in capsys.readouterr().err


def test_drift_against_something_that_is_not_our_mock_is_a_usage_error(
    record_standin,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    cassette = record_standin(Differences())
    assert main(["drift", str(cassette), "--against", "http://127.0.0.1:9"]) == 2
    assert "cannot reach" in capsys.readouterr().err


def test_a_mock_that_does_not_start_is_a_usage_error_with_its_own_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = Path(__file__).resolve().parents[2] / "examples" / "sample.cassette"
    assert main(["drift", str(sample), "--mock-args", f"--config {tmp_path / 'missing.yaml'}"]) == 2
    assert "cannot read the file" in capsys.readouterr().err
