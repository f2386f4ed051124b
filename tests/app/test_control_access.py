"""The control surface is safe in a browser: Origin, Host (DNS rebinding), the token, and masked keys."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest

from mock_server.app import create_app
from mock_server.clock import FakeClock
from mock_server.settings import Settings
from tests.app._support import KEY, create, envelope

OWN = "http://127.0.0.1:8000"
ADVANCE = {"seconds": 10}
Make = Callable[..., httpx2.AsyncClient]

pytestmark = pytest.mark.anyio


async def test_foreign_origin_cannot_advance_the_clock_or_reset(client: httpx2.AsyncClient) -> None:
    task_id = await create(client)
    evil = {"Origin": "https://evil.example"}
    refused = await client.post("/_mock/clock/advance", json=ADVANCE, headers=evil)
    envelope(refused, 403, "access_denied", r"Origin: 'https://evil.example' is not the mock's own origin")
    envelope(await client.post("/_mock/reset", headers=evil), 403, "access_denied", "Origin")
    assert (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).status_code == 200  # nothing was reset


async def test_the_mocks_own_page_may_change_state(client: httpx2.AsyncClient) -> None:
    own = {"Origin": OWN, "Sec-Fetch-Site": "same-origin"}
    assert (await client.post("/_mock/clock/advance", json=ADVANCE, headers=own)).status_code == 200
    assert (await client.post("/_mock/reset", headers=own)).status_code == 200


async def test_cross_site_fetch_metadata_is_refused_without_origin(client: httpx2.AsyncClient) -> None:
    response = await client.put("/_mock/rules", json={"rules": []}, headers={"Sec-Fetch-Site": "cross-site"})
    envelope(response, 403, "access_denied", "Sec-Fetch-Site: 'cross-site'")


async def test_reads_with_a_foreign_origin_still_answer(client: httpx2.AsyncClient) -> None:
    # a page of another site cannot read the answer (no CORS headers), so a GET changes nothing and passes
    response = await client.get("/_mock/health", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("path", ["/_mock/requests", "/v1/credits", "/openapi.json"])
async def test_dns_rebinding_host_is_421_on_every_path(client: httpx2.AsyncClient, path: str) -> None:
    response = await client.get(path, headers={**KEY, "Host": "rebind.example"})
    envelope(response, 421, "access_denied", r"Host: 'rebind.example' is not a loopback name")
    assert "sk-one" not in response.text


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "app.localhost:8000"])
async def test_loopback_hosts_pass(client: httpx2.AsyncClient, host: str) -> None:
    assert (await client.get("/_mock/requests", headers={"Host": host})).status_code == 200


async def test_a_configured_host_passes(make_client: Make) -> None:
    async with make_client(Settings(allowed_hosts=("mock.internal", ".dev.test"))) as client:
        for host in ("mock.internal:8000", "api.dev.test"):
            assert (await client.get("/_mock/requests", headers={"Host": host})).status_code == 200
        envelope(await client.get("/v1/credits", headers={"Host": "other.test"}), 421, "access_denied", "Host")


async def test_clients_on_other_interfaces_reach_the_api_under_any_name(clock: FakeClock) -> None:
    app = create_app(Settings(host="0.0.0.0", admin_token="t0k"), clock=clock)
    transport = httpx2.ASGITransport(app=app, client=("10.0.0.2", 5000))
    async with httpx2.AsyncClient(transport=transport, base_url="http://10.0.0.1:8000") as client:  # a LAN address
        assert (await client.get("/v1/credits", headers={**KEY, "Host": "mock.lan:8000"})).status_code == 200
        envelope(await client.get("/_mock/health", headers={"Host": "mock.lan"}), 401, "access_denied", "Token")


async def test_other_machines_need_the_token(make_client: Make) -> None:
    async with make_client(Settings(host="0.0.0.0", admin_token="t0k"), client=("10.0.0.2", 5000)) as client:
        envelope(await client.get("/_mock/requests"), 401, "access_denied", "X-Mock-Token: missing")
        envelope(await client.get("/metrics"), 401, "access_denied", "X-Mock-Token: missing")
        wrong = await client.get("/_mock/requests", headers={"X-Mock-Token": "nope"})
        envelope(wrong, 403, "access_denied", "does not match")
        assert (await client.get("/_mock/requests", headers={"X-Mock-Token": "t0k"})).status_code == 200
        assert (await client.get("/_mock/health", headers={"Authorization": "Bearer t0k"})).status_code == 200


async def test_a_wildcard_bind_reached_over_loopback_still_refuses_rebinding(make_client: Make) -> None:
    async with make_client(Settings(host="0.0.0.0", admin_token="t0k")) as client:
        assert (await client.get("/_mock/health", headers={"Host": "localhost:8000"})).status_code == 200
        for path in ("/_mock/health", "/v1/credits"):
            envelope(await client.get(path, headers={**KEY, "Host": "rebind.example"}), 421, "access_denied", "Host")


async def test_inspector_link_with_token_sets_a_strict_http_only_cookie(make_client: Make) -> None:
    async with make_client(Settings(host="0.0.0.0", admin_token="t0k"), client=("10.0.0.2", 5000)) as client:
        opened = await client.get("/_mock/ui", params={"token": "t0k"})
        cookie = opened.headers["set-cookie"]
        assert cookie.startswith("shuyou_mock_token=t0k;")
        assert {"HttpOnly", "SameSite=Strict", "Path=/_mock"} <= {part.strip() for part in cookie.split(";")}
        assert (await client.get("/_mock/requests")).status_code == 200  # the client sends the cookie back
        client.cookies.clear()
        assert (await client.get("/_mock/requests")).status_code == 401
        assert "set-cookie" not in (await client.get("/_mock/ui", params={"token": "bad"})).headers


async def test_the_token_in_a_query_opens_only_the_inspector_page(make_client: Make) -> None:
    async with make_client(Settings(host="0.0.0.0", admin_token="t0k"), client=("10.0.0.2", 5000)) as client:
        assert (await client.get("/_mock/requests", params={"token": "t0k"})).status_code == 401
        assert (await client.get("/_mock/uix", params={"token": "t0k"})).status_code == 401
        assert "set-cookie" in (await client.get("/_mock/ui/", params={"token": "t0k"})).headers


async def test_control_responses_cannot_be_framed(client: httpx2.AsyncClient) -> None:
    assert (await client.get("/_mock/health")).headers["x-frame-options"] == "DENY"


async def test_api_keys_are_masked_in_the_journal_and_task_list(client: httpx2.AsyncClient) -> None:
    key = "sk-live-0123456789abcdef"
    await create(client, headers={"Authorization": f"Bearer {key}"})
    for path in ("/_mock/requests", "/_mock/tasks"):
        response = await client.get(path)
        assert key not in response.text
        assert response.json()["data"][-1]["key"] == "…cdef"
    by_full = (await client.get("/_mock/requests", params={"key": key})).json()["data"]
    by_masked = (await client.get("/_mock/requests", params={"key": "…cdef"})).json()["data"]
    assert len(by_full) == len(by_masked) == 1
