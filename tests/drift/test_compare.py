"""`contracts.drift.compare` on hand-made pairs: what the stand-in does not exercise."""

from __future__ import annotations

from typing import Any

from contracts.drift import Category, TimingRow, compare, suggestion
from contracts.spec import load
from openapi.cassette import Exchange, FileRecord

CREDITS = {"data": {"total_credits": 100, "total_usage": 25, "balance": 75}}
HEADERS = {"content-type": "application/json", "x-shuyou-requestid": "8bd6b5784a1e42b79bf172607f476f56"}


def _ex(status: int, body: Any, *, operation: str = "getCredits", **rest: Any) -> Exchange:
    return Exchange(0, "GET", "/v1/credits", status, response_headers=HEADERS, response_body=body,
                    operation=operation, **rest)  # fmt: skip


def test_a_status_the_mock_does_not_answer_is_a_status_difference() -> None:
    error = {"error": {"code": "429", "type": "rate_limit", "message": "slow down"}}
    drift = compare(load(), [(_ex(200, CREDITS, name="credits"), _ex(429, error, name="credits"))])
    assert [(d.category, d.message) for d in drift.differences] == [
        (Category.STATUS, "getCredits: the recorded answer is 200, the mock answers 429")
    ]


def test_a_field_only_the_mock_sends_is_named_from_the_mock_side() -> None:
    mock = {"data": {**CREDITS["data"], "currency": "USD"}}
    (difference,) = compare(load(), [(_ex(200, CREDITS), _ex(200, mock))]).differences
    assert (difference.category, difference.subject) == (Category.FIELDS, "/data/currency")
    assert "comes from the mock" in difference.message


def test_identical_answers_differing_only_in_values_are_no_drift() -> None:
    other = {"data": {"total_credits": 5.5, "total_usage": 0, "balance": 5.5}}
    assert compare(load(), [(_ex(200, CREDITS), _ex(200, other))]).differences == []


def test_a_result_file_of_another_type_is_a_header_difference() -> None:
    def file(kind: str) -> Exchange:
        headers = {"content-type": kind}
        return Exchange(0, "GET", "/files/t/0.png", 200, response_headers=headers, operation="file",
                        file=FileRecord(kind, 10))  # fmt: skip

    (difference,) = compare(load(), [(file("image/png"), file("image/jpeg"))]).differences
    assert (difference.category, difference.message) == (
        Category.HEADERS, "is image/png in recorded answers, image/jpeg from the mock"
    )  # fmt: skip


def test_a_model_much_slower_than_its_function_gets_its_own_rule() -> None:
    rows = [
        TimingRow("video", "sora-2", (45.0, 60.0), (45.0, 60.0), 6, 6),
        TimingRow("video", "veo-3.1-generate-preview", (165.0, 180.0), (45.0, 60.0), 14, 6),
        TimingRow("video", "kling-v3-video", (45.0, 60.0), (45.0, 60.0), 6, 6),
    ]
    assert suggestion(rows) == (
        "durations:\n  video: 52.5\nrules:\n  - name: drift-veo-3.1-generate-preview\n"
        "    match: {model: veo-3.1-generate-preview}\n    duration: 172.5"
    )


def test_a_result_file_the_mocks_task_does_not_have_is_a_status_difference() -> None:
    real = Exchange(0, "GET", "/files/t/1.png", 200, operation="file", name="file gpt-image-2 #1")
    missing = Exchange(0, "GET", "/files/t/1.png", 0, operation="file", name="file gpt-image-2 #1")
    (difference,) = compare(load(), [(real, missing)]).differences
    assert difference.message == "file gpt-image-2 #1: recorded (200), but the mock's task has no such output"
