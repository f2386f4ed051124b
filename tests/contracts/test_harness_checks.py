"""The checks on canned exchanges: no server, each rule fires on what breaks it and stays quiet otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.checks import NOT_JSON, Exchange, check_exchange
from contracts.findings import Kind
from contracts.spec import ContractSpec, load
from contracts.tasks import TaskBook

TASK = "0123456789abcdef0123456789abcdef"
HEADERS = {"x-shuyou-requestid": "f" * 32}


@pytest.fixture(scope="module")
def spec() -> ContractSpec:
    return load()


def success(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "0",
        "usage": {"upstream_cost": 0.4, "discount_percent": 0.75, "cost": 0.3, "discount": 0.1},
        "data": {
            "task_id": TASK,
            "task_status": "success",
            "output": [{"type": "image", "image": "https://x.io/a.png"}],
        },
        "request_id": "a" * 32,
    }
    body["data"].update(changes.pop("data", {}))
    body.update(changes)
    return body


def findings(spec: ContractSpec, body: Any, *, status: int = 200, operation: str = "getPrediction",
             headers: dict[str, str] = HEADERS, book: TaskBook | None = None) -> set[tuple[str, Kind]]:  # fmt: skip
    return {(f.rule, f.kind) for f in check_exchange(spec, Exchange(operation, status, headers, body), book)}


def test_a_documented_success_body_passes(spec: ContractSpec) -> None:
    assert findings(spec, success()) == set()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(success(data={"task_status": "queued"}), ("task_status", Kind.CONTRACT), id="bad-status"),
        pytest.param(success(data={"task_id": "P-1"}), ("task_id_format", Kind.ASSUMPTION), id="task-id-format"),
        pytest.param(success(request_id="r-1"), ("request_id_format", Kind.ASSUMPTION), id="request-id-format"),
        pytest.param(success(data={"task_status": "processing"}), ("output_only_on_success", Kind.CONTRACT),
                     id="output-early"),
        pytest.param(success(data={"output": []}), ("output_only_on_success", Kind.CONTRACT), id="no-output"),
        pytest.param(success(data={"output": [{"type": "video", "url": "https://x.io/v.mp4"}]}),
                     ("output", Kind.ASSUMPTION), id="video-field-named-url"),
        pytest.param(success(usage={"upstream_cost": 0.4, "discount_percent": 0.75, "cost": 0.4, "discount": 0.0}),
                     ("usage_arithmetic", Kind.CONTRACT), id="usage-cost"),
        pytest.param(success(usage={"upstream_cost": 0.4, "discount_percent": 0.75, "cost": 0.3, "discount": 0.3}),
                     ("usage_arithmetic", Kind.CONTRACT), id="usage-discount"),
        pytest.param(NOT_JSON, ("envelope", Kind.CONTRACT), id="not-json"),
    ],
)  # fmt: skip
def test_success_body_rules(spec: ContractSpec, body: Any, expected: tuple[str, Kind]) -> None:
    assert expected in findings(spec, body)


def test_missing_request_id_header_is_an_assumption_difference(spec: ContractSpec) -> None:
    assert findings(spec, success(), headers={}) == {("request_id_header", Kind.ASSUMPTION)}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        pytest.param(400, {"error": {"code": "400", "type": "invalid_params", "message": "m"}}, set(), id="ok-400"),
        pytest.param(404, {"error": {"code": "404", "type": "not_found", "message": "m"}}, set(), id="ok-404"),
        pytest.param(400, {"message": "bad"}, {("error_envelope", Kind.CONTRACT)}, id="outside-envelope"),
        pytest.param(400, NOT_JSON, {("error_envelope", Kind.CONTRACT)}, id="not-json"),
        pytest.param(400, {"error": {"code": "422", "type": "invalid_params", "message": "m"}},
                     {("error_envelope", Kind.CONTRACT)}, id="code-differs-from-status"),
        pytest.param(400, {"error": {"code": "400", "type": "rate_limit", "message": "m"}},
                     {("error_type", Kind.CONTRACT)}, id="type-of-another-status"),
        pytest.param(418, {"error": {"code": "418", "type": "teapot", "message": "m"}},
                     {("undocumented_status", Kind.CONTRACT)}, id="undocumented-status"),
    ],
)  # fmt: skip
def test_error_rules(spec: ContractSpec, status: int, body: Any, expected: set[tuple[str, Kind]]) -> None:
    assert findings(spec, body, status=status, operation="createPrediction") == expected


def test_allowed_error_types_come_from_the_spec(spec: ContractSpec) -> None:
    assert spec.error_types("createPrediction", 402) == ["insufficient_credit", "quote_exceeded", "reject_no_credit"]
    assert "invalid_params" in spec.error_types("createPrediction", 413)


def test_terminal_status_is_sticky(spec: ContractSpec) -> None:
    book = TaskBook()

    first = findings(spec, success(), book=book)
    back = findings(spec, success(data={"task_status": "processing", "output": None}), book=book)

    assert first == set()
    assert ("terminal_sticky", Kind.CONTRACT) in back


def test_output_must_match_the_function_of_the_model(spec: ContractSpec) -> None:
    book = TaskBook()
    audio_model = next(model for model, function in spec.models.items() if function == "audio")
    book.created(TASK, model=audio_model, function="audio")

    assert ("output_matches_function", Kind.CONTRACT) in findings(spec, success(), book=book)


def test_the_create_envelope_is_checked(spec: ContractSpec) -> None:
    ok = {"data": {"task_id": TASK, "task_status": "processing"}}

    assert findings(spec, ok, operation="createPrediction") == set()
    assert ("envelope", Kind.CONTRACT) in findings(
        spec, {"data": {"task_status": "processing"}}, operation="createPrediction"
    )


def _video_body(spec: ContractSpec, duration: object) -> tuple[str, dict[str, Any]]:
    pointer = spec.request_schema_ref("createPrediction")
    assert pointer is not None
    model = next(m for m in spec.models if m.startswith("veo-3.1") and spec.models[m] == "video")
    return pointer, {"model": model, "function": "video", "input": {"prompt": "a boat", "duration": duration}}


def test_a_body_valid_only_by_an_assumption_is_recognised(spec: ContractSpec) -> None:
    pointer, documented = _video_body(spec, 4)
    _, assumed = _video_body(spec, "4")

    assert spec.validate(pointer, documented) == spec.validate(pointer, assumed) == []
    assert spec.assumption_used(pointer, documented) is None
    assert "DECISIONS 15" in (spec.assumption_used(pointer, assumed) or "")


def failed_billed() -> dict[str, Any]:
    body = success(data={"task_status": "failed"})
    del body["data"]["output"]
    return body


@pytest.mark.parametrize(
    ("operation", "body", "task_id", "expected"),
    [
        pytest.param("createPrediction", {"data": {"task_id": TASK, "task_status": "success"}}, None,
                     ("created_processing", Kind.CONTRACT), id="created-as-success"),
        pytest.param("getPrediction", success(), "f" * 32, ("task_id_matches", Kind.CONTRACT), id="another-task"),
        pytest.param("getPrediction", {k: v for k, v in success().items() if k != "usage"}, None,
                     ("usage_on_success", Kind.ASSUMPTION), id="success-without-usage"),
        pytest.param("getPrediction", failed_billed(), None, ("failed_task_body", Kind.ASSUMPTION),
                     id="failed-billed-without-error"),
        pytest.param("getCredits", {"data": {"total_credits": 10, "total_usage": 4, "balance": 5}}, None,
                     ("credits_balance", Kind.CONTRACT), id="balance-off"),
    ],
)  # fmt: skip
def test_rules_beyond_the_schema(
    spec: ContractSpec, operation: str, body: Any, task_id: str | None, expected: tuple[str, Kind]
) -> None:
    found = {(f.rule, f.kind) for f in check_exchange(spec, Exchange(operation, 200, HEADERS, body, task_id=task_id))}

    assert found == {expected}
