"""Every body the mock sends validates against the spec's schema for it (openapi.schema_validator)."""

from __future__ import annotations

import httpx2
import pytest

import openapi
from mock_server.clock import FakeClock
from tests.app._support import AUDIO, IMAGE, KEY, VIDEO, create

pytestmark = pytest.mark.anyio


def valid(schema: str, body: object) -> None:
    errors = [e.message for e in openapi.schema_validator(schema).iter_errors(body)]
    assert errors == [], errors


async def test_prediction_bodies_in_every_status_match_the_spec(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    created = await client.post("/v1/predictions", json=VIDEO, headers=KEY)
    valid("CreatePredictionResponse", created.json())
    ok = created.json()["data"]["task_id"]
    failed = (await client.post("/v1/predictions", json=AUDIO, headers={**KEY, "X-Mock-Outcome": "failed"})).json()
    cancelled = await create(client, IMAGE)
    await client.post(f"/_mock/tasks/{cancelled}/cancel")
    valid("GetPredictionResponse", (await client.get(f"/v1/predictions/{ok}", headers=KEY)).json())
    clock.advance(60)
    for task_id in (ok, failed["data"]["task_id"], cancelled):
        valid("GetPredictionResponse", (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).json())
    valid("CreditsResponse", (await client.get("/v1/credits", headers=KEY)).json())


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/v1/credits", {}),
        ("GET", "/v1/predictions/nope", KEY),
        ("POST", "/v1/predictions", KEY),
        ("GET", "/v1/credits", {**KEY, "X-Mock-Error": "429:rate_limit"}),
    ],
)
async def test_error_bodies_match_the_spec(
    client: httpx2.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> None:
    response = await client.request(method, path, headers=headers)
    assert response.status_code >= 400
    valid("ErrorResponse", response.json())
    if response.status_code == 429:
        assert int(response.headers["retry-after"]) >= 0


@pytest.mark.parametrize(
    ("status", "response"),
    [
        ("401", "Unauthorized"),
        ("402", "PaymentRequired"),
        ("403", "Forbidden"),
        ("404", "NotFound"),
        ("429", "TooManyRequests"),
        ("500", "InternalError"),
    ],
)
async def test_an_injected_status_without_a_type_gets_the_documented_type(
    client: httpx2.AsyncClient, status: str, response: str
) -> None:
    for answer in (
        await client.get("/v1/credits", headers={**KEY, "X-Mock-Error": status}),
        await client.post("/v1/predictions", json=IMAGE, headers={**KEY, "X-Mock-Error": status}),
    ):
        assert answer.status_code == int(status)
        valid(f"#/components/responses/{response}/content/application~1json/schema", answer.json())
