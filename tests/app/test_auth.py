from __future__ import annotations

from typing import Any

import httpx2
import pytest

import openapi
from mock_server.clock import FakeClock
from mock_server.settings import RateLimit, Settings
from tests.app._support import IMAGE, KEY, OTHER, create, envelope

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"Authorization": "Bearer "}, id="empty"),
        pytest.param({"Authorization": "Basic abc"}, id="basic"),
    ],
)
async def test_missing_key_is_401_access_denied(client: httpx2.AsyncClient, headers: dict[str, str]) -> None:
    envelope(await client.get("/v1/credits", headers=headers), 401, "access_denied", "missing or empty API key")


SPEC = openapi.load_spec()
SCHEMES = SPEC["components"]["securitySchemes"]
OPERATIONS = [
    pytest.param(method.upper(), path.replace("{prediction_id}", "0" * 32), op, id=op["operationId"])
    for path, item in SPEC["paths"].items()
    for method, op in item.items()
]


def _send(name: str, key: str) -> dict[str, str]:
    """The header that security scheme `name` of the spec reads a key from."""
    scheme = SCHEMES[name]
    return {"Authorization": f"Bearer {key}"} if scheme["type"] == "http" else {scheme["name"]: key}


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS)
async def test_every_declared_security_scheme_is_accepted(
    make_client,  # type: ignore[no-untyped-def]
    method: str,
    path: str,
    operation: dict[str, Any],
) -> None:
    names = [name for requirement in operation["security"] for name in requirement]
    assert {SCHEMES[name].get("name") for name in names} >= {"x-api-key", "x-goog-api-key"}
    async with make_client(Settings(keys=("sk-one",))) as client:
        for name in names:
            body = IMAGE if method == "POST" else None
            accepted = await client.request(method, path, json=body, headers=_send(name, "sk-one"))
            assert accepted.status_code in (200, 404), (name, accepted.text)  # 404: no such task, but let in
            refused = await client.request(method, path, json=body, headers=_send(name, "sk-two"))
            envelope(refused, 401, "access_denied", "not accepted")


@pytest.mark.parametrize("header", ["api-key", "x-shuyou-key", "x-goog-key"])
async def test_a_header_the_spec_does_not_declare_is_not_a_key(client: httpx2.AsyncClient, header: str) -> None:
    response = await client.get("/v1/credits", headers={header: "sk-test"})
    envelope(response, 401, "access_denied", "'Authorization: Bearer <key>', 'x-api-key: <key>' or 'x-goog-api-key")


async def test_403_is_selectable(make_client) -> None:  # type: ignore[no-untyped-def]
    async with make_client(Settings(auth_error_status=403)) as client:
        envelope(await client.post("/v1/predictions", json=IMAGE), 403, "access_denied", "missing or empty API key")


async def test_config_can_restrict_keys(make_client) -> None:  # type: ignore[no-untyped-def]
    async with make_client(Settings(keys=("sk-one",))) as client:
        assert (await client.get("/v1/credits", headers=KEY)).status_code == 200
        envelope(await client.get("/v1/credits", headers=OTHER), 401, "access_denied", "not accepted")


async def test_credits_default_unlimited_and_usage_adds_up(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    await create(client)
    clock.advance(10)
    data = (await client.get("/v1/credits", headers=KEY)).json()["data"]
    assert data["total_usage"] == pytest.approx(2 * 0.039 * 0.75)
    assert data["balance"] == pytest.approx(data["total_credits"] - data["total_usage"])
    other = (await client.get("/v1/credits", headers=OTHER)).json()["data"]
    assert other["total_usage"] == 0


async def test_exhausted_balance_is_402(make_client, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    cost = 2 * 0.039 * 0.75
    async with make_client(Settings(balances={"sk-one": 0.1})) as client:
        await create(client)  # holds `cost` of the 0.1 while it processes
        held = (await client.get("/v1/credits", headers=KEY)).json()["data"]
        assert (held["total_usage"], held["balance"]) == (pytest.approx(cost), pytest.approx(0.1 - cost))
        response = await client.post("/v1/predictions", json=IMAGE, headers=KEY)
        envelope(response, 402, "insufficient_credit", "would cost 0.0585")
        clock.advance(10)
        settled = (await client.get("/v1/credits", headers=KEY)).json()["data"]
        assert settled["balance"] == pytest.approx(0.1 - cost)
        envelope(await client.post("/v1/predictions", json=IMAGE, headers=KEY), 402, "insufficient_credit", "Account")
        assert (await client.post("/v1/predictions", json=IMAGE, headers=OTHER)).status_code == 200


async def test_creates_while_tasks_process_never_take_the_balance_below_zero(  # type: ignore[no-untyped-def]
    make_client, clock: FakeClock
) -> None:
    cost = 2 * 0.039 * 0.75
    async with make_client(Settings(balances={"sk-one": 0.2})) as client:
        answers = [(await client.post("/v1/predictions", json=IMAGE, headers=KEY)).status_code for _ in range(20)]
        assert (answers.count(200), answers.count(402)) == (3, 17)  # 3 * 0.0585 <= 0.2 < 4 * 0.0585
        clock.advance(10)
        data = (await client.get("/v1/credits", headers=KEY)).json()["data"]
        assert (data["total_usage"], data["balance"]) == (pytest.approx(3 * cost), pytest.approx(0.2 - 3 * cost))


async def test_a_failed_task_gives_its_reservation_back(make_client, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    async with make_client(Settings(balances={"sk-one": 0.1})) as client:
        await create(client, headers={**KEY, "X-Mock-Outcome": "failed"})
        assert (await client.get("/v1/credits", headers=KEY)).json()["data"]["balance"] < 0.1
        clock.advance(10)
        assert (await client.get("/v1/credits", headers=KEY)).json()["data"]["balance"] == pytest.approx(0.1)


async def test_rate_limit_429_with_retry_after_then_recovers(make_client, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    async with make_client(Settings(rate_limit=RateLimit(2, 10.0))) as client:
        assert (await client.get("/v1/credits", headers=KEY)).status_code == 200
        assert (await client.get("/v1/credits", headers=KEY)).status_code == 200
        limited = await client.get("/v1/credits", headers=KEY)
        envelope(limited, 429, "rate_limit", "Rate limit exceeded")
        assert limited.headers["retry-after"] == "5"
        assert (await client.get("/v1/credits", headers=OTHER)).status_code == 200
        clock.advance(5)
        assert (await client.get("/v1/credits", headers=KEY)).status_code == 200
