"""The control surface answers what openapi/control.yaml documents (a valid OpenAPI doc, honest schemas)."""

from __future__ import annotations

from typing import Any

import httpx2
import jsonschema_rs
import pytest
from openapi_spec_validator import validate

import openapi
from mock_server.clock import FakeClock
from mock_server.settings import Settings
from tests.app._support import KEY, create

pytestmark = pytest.mark.anyio
DOC: dict[str, Any] = openapi.control_spec()


def check(path: str, method: str, status: int, body: object) -> None:
    schema = DOC["paths"][path][method]["responses"][str(status)]
    if "$ref" in schema:
        schema = DOC["components"]["responses"][schema["$ref"].rsplit("/", 1)[-1]]
    root = {**schema["content"]["application/json"]["schema"], "components": DOC["components"]}
    errors = [f"{e.instance_path}: {e.message}" for e in jsonschema_rs.Draft202012Validator(root).iter_errors(body)]
    assert errors == [], errors


def test_control_doc_is_valid_openapi() -> None:
    validate(DOC)


def test_the_documented_delivery_statuses_are_the_journals() -> None:
    """The doc once left out `gone`, which the journal records and the inspector's filter offers."""
    from mock_server.webhooks.journal import DeliveryStatus

    assert DOC["components"]["schemas"]["DeliveryStatus"]["enum"] == [str(s) for s in DeliveryStatus]


async def test_control_answers_match_the_doc(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    task_id = await create(client)
    check("/_mock/health", "get", 200, (await client.get("/_mock/health")).json())
    check("/_mock/clock", "get", 200, (await client.get("/_mock/clock")).json())
    check("/_mock/clock/advance", "post", 200, (await client.post("/_mock/clock/advance", json={"seconds": 1})).json())
    check("/_mock/tasks", "get", 200, (await client.get("/_mock/tasks")).json())
    check("/_mock/tasks/{task_id}", "get", 200, (await client.get(f"/_mock/tasks/{task_id}")).json())
    check("/_mock/tasks/{task_id}/cancel", "post", 200, (await client.post(f"/_mock/tasks/{task_id}/cancel")).json())
    check("/_mock/tasks/{task_id}/cancel", "post", 409, (await client.post(f"/_mock/tasks/{task_id}/cancel")).json())
    rules = {
        "rules": [
            {"name": "r", "match": {"model": ["gpt-image-2", "sora-2"]}, "outcome": "failed", "webhook_chaos": {}}
        ]
    }
    check("/_mock/rules", "put", 200, (await client.put("/_mock/rules", json=rules)).json())
    check("/_mock/rules", "get", 200, (await client.get("/_mock/rules")).json())
    await client.get("/v1/credits", headers=KEY)
    check("/_mock/requests", "get", 200, (await client.get("/_mock/requests")).json())
    check("/_mock/clock/advance", "post", 400, (await client.post("/_mock/clock/advance", json={})).json())
    too_big = b" " * (Settings().max_body_bytes + 1)
    check("/_mock/rules", "put", 413, (await client.put("/_mock/rules", content=too_big)).json())
