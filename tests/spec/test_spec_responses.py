"""Response, output-item, error, credits and webhook schemas accept their documented shape and reject wrong ones;
x-assumption marks sit exactly where DECISIONS.md (not the docs) is the source."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

import openapi

SPEC = openapi.load_spec()
EXAMPLES: dict[str, Any] = SPEC["components"]["examples"]
TASK_ID = "2c4d50261173430290971a2395a3b607"
URL = "https://cdn.shuyou.ai/model/20a60c33ba954d85a669ee0f24da8e38.png?e=1778427598&token=abc"


def example(name: str) -> Any:
    return EXAMPLES[name]["value"]


def response_schema(name: str) -> str:
    return f"#/components/responses/{name}/content/application~1json/schema"


def error(status: str, type_: str) -> dict[str, Any]:
    return {"error": {"code": status, "type": type_, "message": "input.prompt: is required"}}


GOOD = [
    pytest.param("ImageOutput", {"type": "image", "image": URL}, id="image-output"),
    pytest.param("VideoOutput", {"type": "video", "video": URL}, id="video-output"),
    pytest.param("AudioOutput", {"type": "audio", "audio": URL}, id="audio-output"),
    pytest.param("OutputItem", {"type": "audio", "audio": URL, "duration_seconds": 3}, id="output-item-open"),
    pytest.param("CreatePredictionResponse", example("prediction.created"), id="created"),
    pytest.param("GetPredictionResponse", example("prediction.success_image"), id="get-success"),
    pytest.param("GetPredictionResponse", example("prediction.failed"), id="get-failed"),
    pytest.param("PredictionUsage", example("prediction.success_image")["usage"], id="usage"),
    pytest.param("TaskError", {"code": "generation_failed", "message": "boom"}, id="task-error"),
    pytest.param("ErrorResponse", error("418", "anything"), id="error-envelope"),
    pytest.param("CreditsResponse", example("credits.balance"), id="credits"),
    pytest.param("CreditsResponse", {"data": {"total_credits": 1.5, "total_usage": 0.25, "balance": 1.25}}, id="frac"),
    pytest.param("TaskId", TASK_ID, id="task-id"),
    pytest.param("TaskStatus", "cancelled", id="status-cancelled"),
]

BAD = [
    pytest.param("ImageOutput", {"type": "image"}, id="image-output-no-url"),
    pytest.param("ImageOutput", {"type": "image", "image": "cdn/picture.png"}, id="image-output-relative-url"),
    pytest.param("VideoOutput", {"type": "video", "url": URL}, id="video-output-url-field"),
    pytest.param("AudioOutput", {"type": "image", "audio": URL}, id="audio-output-wrong-type"),
    pytest.param("OutputItem", {"type": "gif", "gif": URL}, id="output-item-unknown-type"),
    pytest.param("OutputItem", {"type": "video", "image": URL}, id="output-item-mismatched-field"),
    pytest.param("OutputItem", "https://cdn.shuyou.ai/x.png", id="output-item-bare-url"),
    pytest.param("CreatePredictionResponse", {"task_id": TASK_ID, "task_status": "processing"}, id="created-no-data"),
    pytest.param("CreatePredictionResponse", {"data": {"task_id": TASK_ID, "task_status": "queued"}}, id="queued"),
    pytest.param("CreatePredictionResponse", {"data": {"task_id": "p_000001", "task_status": "processing"}}, id="id"),
    pytest.param("GetPredictionResponse", {**example("prediction.processing"), "code": 0}, id="get-code-int"),
    pytest.param(
        "GetPredictionResponse",
        {key: value for key, value in example("prediction.processing").items() if key != "request_id"},
        id="get-no-request-id",
    ),
    pytest.param("GetPredictionResponse", example("prediction.processing")["data"], id="get-bare-data"),
    pytest.param(
        "GetPredictionResponse",
        {**example("prediction.processing"), "data": {"task_id": TASK_ID, "task_status": "succeeded"}},
        id="get-succeeded",
    ),
    pytest.param("PredictionUsage", {"cost": "0.02925"}, id="usage-string-cost"),
    pytest.param("TaskError", {"message": "boom"}, id="task-error-no-code"),
    pytest.param("ErrorResponse", {"error": "boom"}, id="error-string"),
    pytest.param("ErrorResponse", {"code": "400", "type": "invalid_params", "message": "m"}, id="error-unwrapped"),
    pytest.param("ErrorResponse", {"error": {"code": 400, "type": "invalid_params", "message": "m"}}, id="error-int"),
    pytest.param("CreditsResponse", {"data": {"total_credits": 100, "total_usage": 25}}, id="credits-no-balance"),
    pytest.param("CreditsResponse", {"total_credits": 100, "total_usage": 25, "balance": 75}, id="credits-no-data"),
    pytest.param("CreditsResponse", {"data": {"total_credits": "100", "total_usage": 25, "balance": 75}}, id="str"),
    pytest.param("TaskStatus", "canceled", id="status-canceled"),
]

STATUS_RESPONSES = [
    ("BadRequest", "400", "invalid_params"),
    ("Unauthorized", "401", "access_denied"),
    ("PaymentRequired", "402", "quote_exceeded"),
    ("Forbidden", "403", "safety_check_failed"),
    ("NotFound", "404", "invalid_model"),
    ("PayloadTooLarge", "413", "invalid_params"),
    ("TooManyRequests", "429", "rate_limit"),
    ("InternalError", "500", "provider_error"),
]


@pytest.mark.parametrize(("ref", "body"), GOOD)
def test_schema_accepts_documented_shape(ref: str, body: Any) -> None:
    assert list(openapi.schema_validator(ref).iter_errors(body)) == []


@pytest.mark.parametrize(("ref", "body"), BAD)
def test_schema_rejects_wrong_shape(ref: str, body: Any) -> None:
    assert not openapi.schema_validator(ref).is_valid(body)


@pytest.mark.parametrize(("name", "status", "type_"), STATUS_RESPONSES)
def test_error_response_accepts_its_status_and_types(name: str, status: str, type_: str) -> None:
    assert openapi.schema_validator(response_schema(name)).is_valid(error(status, type_))


@pytest.mark.parametrize(("name", "status", "type_"), STATUS_RESPONSES)
def test_error_response_rejects_other_status_or_type(name: str, status: str, type_: str) -> None:
    validator = openapi.schema_validator(response_schema(name))
    assert not validator.is_valid(error("200", type_))
    assert not validator.is_valid(error(status, "something_else"))
    assert not validator.is_valid({"error": {"code": status, "type": type_}})


def test_each_status_has_an_example_of_what_the_mock_returns() -> None:
    for name, status, _ in STATUS_RESPONSES:
        examples = SPEC["components"]["responses"][name]["content"]["application/json"]["examples"]
        assert examples, name
        for ref in examples.values():
            assert example(ref["$ref"].rsplit("/", 1)[-1])["error"]["code"] == status


def test_webhook_body_is_the_get_prediction_body() -> None:
    post = SPEC["components"]["pathItems"]["PredictionFinished"]["post"]
    pointer = "#/components/pathItems/PredictionFinished/post/requestBody/content/application~1json/schema"
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/GetPredictionResponse")
    assert openapi.schema_validator(pointer).is_valid(example("prediction.cancelled"))
    assert not openapi.schema_validator(pointer).is_valid({"task_id": TASK_ID, "task_status": "success"})


def test_webhook_header_schemas_match_a_real_standard_webhooks_signature() -> None:
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    signature = Webhook(secret).sign("msg_1", datetime.fromtimestamp(1_700_000_000, UTC), '{"code":"0"}')
    headers = {"webhook-id": "msg_1", "webhook-timestamp": "1700000000", "webhook-signature": signature}
    for name in ("WebhookId", "WebhookTimestamp", "WebhookSignature"):
        parameter = SPEC["components"]["parameters"][name]
        validator = openapi.schema_validator(f"#/components/parameters/{name}/schema")
        assert validator.is_valid(headers[parameter["name"]]), name
    assert not openapi.schema_validator("#/components/parameters/WebhookSignature/schema").is_valid("sha256=abc")
    assert not openapi.schema_validator("#/components/parameters/WebhookTimestamp/schema").is_valid("soon")


# ---------------------------------------------------------------------------------------------------- x-assumption


def marks(node: Any, pointer: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if "x-assumption" in node or "x-assumed-values" in node:
            yield pointer, node
        for key, value in node.items():
            yield from marks(value, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from marks(value, f"{pointer}/{index}")


MARKED = dict(marks(SPEC))

# Every element that comes from DECISIONS.md. Adding or removing a mark is a deliberate change to this list.
EXPECTED_MARKS = {
    "#/paths/~1v1~1credits/get",
    "#/components/parameters/WebhookId",
    "#/components/parameters/WebhookTimestamp",
    "#/components/parameters/WebhookSignature",
    "#/components/headers/RequestId",
    "#/components/headers/RetryAfter",
    "#/components/pathItems/PredictionFinished/post",
    "#/components/pathItems/PredictionFinished/post/responses/2XX",
    "#/components/responses/Unauthorized/content/application~1json/schema/allOf/1/properties/error/properties/type",
    "#/components/responses/NotFound/content/application~1json/schema/allOf/1/properties/error/properties/type",
    "#/components/schemas/TaskId",
    "#/components/schemas/RequestId",
    "#/components/schemas/TaskStatus",
    "#/components/schemas/WebhookUrl",
    "#/components/schemas/DurationString",
    "#/components/schemas/Speech28HdRequest/properties/model",
    "#/components/schemas/GetPredictionResponse/properties/code",
    "#/components/schemas/PredictionData/properties/error",
    "#/components/schemas/TaskError",
    "#/components/schemas/VideoOutput",
    "#/components/schemas/AudioOutput",
    "#/components/examples/prediction.success_video",
    "#/components/examples/prediction.success_audio",
    "#/components/examples/prediction.failed",
    "#/components/examples/prediction.cancelled",
    "#/components/examples/error.401.access_denied",
    "#/components/examples/error.404.not_found",
}


def test_assumption_marks_are_exactly_the_decisions() -> None:
    assert set(MARKED) == EXPECTED_MARKS


@pytest.mark.parametrize("pointer", sorted(MARKED))
def test_assumption_mark_is_a_one_line_reason(pointer: str) -> None:
    reason = MARKED[pointer]["x-assumption"]
    assert isinstance(reason, str)
    assert reason.strip() == reason
    assert "\n" not in reason
    assert 10 <= len(reason) <= 120


@pytest.mark.parametrize("pointer", [p for p, node in MARKED.items() if "x-assumed-values" in node])
def test_assumed_values_are_a_subset_of_the_enum(pointer: str) -> None:
    node = MARKED[pointer]
    assert set(node["x-assumed-values"]) < set(node["enum"])


def test_documented_elements_carry_no_mark() -> None:
    schemas = SPEC["components"]["schemas"]
    for name in ("ImageOutput", "ErrorResponse", "CreditsResponse", "PredictionUsage", "CreatePredictionRequest"):
        assert not any(pointer.startswith(f"#/components/schemas/{name}") for pointer in MARKED), name
    request_examples = SPEC["paths"]["/v1/predictions"]["post"]["requestBody"]["content"]["application/json"]
    assert not any(f"#/components/examples/{name}" in MARKED for name in request_examples["examples"])
    assert "x-assumption" not in schemas["ImageUrls"]
