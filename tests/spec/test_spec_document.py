"""The spec is a valid OpenAPI 3.1 document, loads in schemathesis, and keeps the names everyone codes against."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from openapi_spec_validator import validate

import openapi

SPEC = openapi.load_spec()
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]


def test_spec_is_valid_openapi_3_1() -> None:
    assert SPEC["openapi"] == "3.1.0"
    validate(SPEC)


def test_spec_loads_in_schemathesis() -> None:
    schema = schemathesis.openapi.from_path(str(openapi.SPEC_PATH))
    assert len(list(schema.get_all_operations())) == 3
    for operation_id, label in [
        ("createPrediction", "POST /v1/predictions"),
        ("getPrediction", "GET /v1/predictions/{prediction_id}"),
        ("getCredits", "GET /v1/credits"),
    ]:
        assert schema.find_operation_by_id(operation_id).label == label


@pytest.mark.parametrize(
    ("path", "method", "operation_id"),
    [
        pytest.param("/v1/predictions", "post", "createPrediction", id="create"),
        pytest.param("/v1/predictions/{prediction_id}", "get", "getPrediction", id="get"),
        pytest.param("/v1/credits", "get", "getCredits", id="credits"),
    ],
)
def test_operation_ids_and_bearer_security(path: str, method: str, operation_id: str) -> None:
    assert SPEC["paths"][path][method]["operationId"] == operation_id
    assert SPEC["security"] == [{"bearerAuth": []}]
    assert SPEC["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer YOUR_API_KEY`",
    }


def test_every_response_declares_the_request_id_header() -> None:
    responses = [
        response
        for item in SPEC["paths"].values()
        for operation in item.values()
        for response in operation["responses"].values()
    ]
    assert responses
    for response in responses:
        resolved = _resolve(response)
        assert resolved["headers"]["X-ShuYou-RequestId"] == {"$ref": "#/components/headers/RequestId"}


def test_task_status_enum() -> None:
    assert SCHEMAS["TaskStatus"]["enum"] == ["processing", "success", "failed", "cancelled"]
    assert SCHEMAS["TaskStatus"]["x-assumed-values"] == ["cancelled"]


def test_link_chains_create_to_get() -> None:
    link = SPEC["paths"]["/v1/predictions"]["post"]["responses"]["200"]["links"]["GetPredictionByTaskId"]
    assert link["operationId"] == "getPrediction"
    assert link["parameters"] == {"prediction_id": "$response.body#/data/task_id"}


def test_webhook_and_callback_share_one_path_item() -> None:
    ref = {"$ref": "#/components/pathItems/PredictionFinished"}
    assert SPEC["webhooks"]["predictionFinished"] == ref
    callbacks = SPEC["paths"]["/v1/predictions"]["post"]["callbacks"]
    assert callbacks == {"predictionFinished": {"{$request.body#/webhook}": ref}}
    post = SPEC["components"]["pathItems"]["PredictionFinished"]["post"]
    headers = {_resolve(p)["name"] for p in post["parameters"] if _resolve(p)["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/GetPredictionResponse"}


@pytest.mark.parametrize(
    ("name", "status", "types"),
    [
        pytest.param("BadRequest", "400", ["invalid_params"], id="400"),
        pytest.param("Unauthorized", "401", ["access_denied"], id="401"),
        pytest.param("PaymentRequired", "402", ["insufficient_credit", "reject_no_credit", "quote_exceeded"], id="402"),
        pytest.param("Forbidden", "403", ["access_denied", "safety_check_failed"], id="403"),
        pytest.param(
            "NotFound", "404", ["not_found", "model_not_available", "invalid_model", "model_not_supported"], id="404"
        ),
        pytest.param("PayloadTooLarge", "413", ["invalid_params"], id="413"),
        pytest.param("TooManyRequests", "429", ["rate_limit"], id="429"),
        pytest.param(
            "InternalError", "500", ["internal_server_error", "provider_api_error", "provider_error"], id="500"
        ),
    ],
)
def test_error_responses_pin_status_and_types(name: str, status: str, types: list[str]) -> None:
    schema = SPEC["components"]["responses"][name]["content"]["application/json"]["schema"]
    base, pinned = schema["allOf"]
    assert base == {"$ref": "#/components/schemas/ErrorResponse"}
    assert pinned["properties"]["error"]["properties"]["code"] == {"const": status}
    assert pinned["properties"]["error"]["properties"]["type"]["enum"] == types


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    resolved: dict[str, Any] = openapi.resolve(SPEC, node)
    return resolved


def _ref_nodes(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if "$ref" in node and len(node) > 1 else []
        return found + [n for value in node.values() for n in _ref_nodes(value)]
    if isinstance(node, list):
        return [n for value in node for n in _ref_nodes(value)]
    return []


def test_ref_siblings_only_add_limits_to_shared_components() -> None:
    # `{$ref: Prompt, maxLength: 2000}` means both apply (2020-12). Siblings may narrow or annotate, never redefine
    # a keyword of the referenced schema, so "the target plus the siblings" is what any reader sees.
    nodes = _ref_nodes(SPEC["components"]["schemas"])
    assert nodes
    for node in nodes:
        target = _resolve({"$ref": node["$ref"]})
        redefined = (set(node) - {"$ref"}) & set(target)
        assert redefined <= {"description", "default", "x-assumption"}, (node["$ref"], redefined)
