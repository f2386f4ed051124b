from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from mock_server import create_app
from mock_server.clock import FakeClock
from mock_server.errors import SettingsError
from mock_server.rules import parse_rules
from mock_server.settings import Settings
from tests.app._support import AUDIO, IMAGE, KEY, OTHER, create, envelope
from tests.app.test_control_doc import check

pytestmark = pytest.mark.anyio


async def test_health_and_clock(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    assert (await client.get("/_mock/health")).json()["status"] == "ok"
    assert (await client.get("/_mock/clock")).json()["now"] == clock.now()


async def test_clock_advance_completes_tasks(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    task_id = await create(client)
    start = clock.now()
    response = await client.post("/_mock/clock/advance", json={"seconds": 10})
    assert response.json() == {"now": start + 10, "timers_run": 1}
    task = (await client.get(f"/_mock/tasks/{task_id}")).json()
    assert [e["task_status"] for e in task["events"]] == ["processing", "success"]
    assert task["body"]["data"]["task_status"] == "success"


@pytest.mark.parametrize("body", [{"seconds": -1}, {"seconds": "x"}, {}], ids=["negative", "string", "missing"])
async def test_clock_advance_rejects_bad_seconds(client: httpx2.AsyncClient, body: dict[str, Any]) -> None:
    envelope(await client.post("/_mock/clock/advance", json=body), 400, "invalid_params", "seconds:")


async def test_control_body_over_the_limit_is_413_without_reading_the_rest(make_client) -> None:  # type: ignore[no-untyped-def]
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit must stop the reading itself
        nonlocal sent
        for _ in range(10):
            sent += 1
            yield b" " * 100

    async with make_client(Settings(max_body_bytes=150)) as client:
        response = await client.put("/_mock/rules", content=chunks(), headers={"Content-Type": "application/json"})
    envelope(response, 413, "invalid_params", "^body: over the limit of 150 bytes")
    assert sent == 2


async def test_control_body_with_a_content_length_over_the_limit_is_413(make_client) -> None:  # type: ignore[no-untyped-def]
    async with make_client(Settings(max_body_bytes=150)) as client:
        response = await client.post(
            "/_mock/clock/advance", content=b" " * 200, headers={"Content-Type": "application/json"}
        )
    envelope(response, 413, "invalid_params", "^body: Content-Length 200 is over the limit of 150 bytes")


async def test_tasks_filter_by_key_status_model(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    a = await create(client)
    b = await create(client, AUDIO, OTHER)
    clock.advance(5)

    async def listed(**params: str) -> list[str]:
        return [t["task_id"] for t in (await client.get("/_mock/tasks", params=params)).json()["data"]]

    assert await listed(key="sk-two") == [b]
    assert await listed(status="processing") == [a]
    assert await listed(model=str(IMAGE["model"])) == [a]
    envelope(await client.get("/_mock/tasks", params={"status": "done"}), 400, "invalid_params", "status:")


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/_mock/tasks", {"limit": "0"}, "limit:"),
        ("/_mock/tasks", {"limit": "\u00b2"}, "limit:"),
        ("/_mock/requests", {"limit": "1" * 5000}, "limit:"),
        ("/_mock/requests", {"status": "\u00b2"}, "status:"),
    ],
)
async def test_bad_integer_query_parameters_are_400(
    client: httpx2.AsyncClient, path: str, params: dict[str, str], message: str
) -> None:
    envelope(await client.get(path, params=params), 400, "invalid_params", message)


async def test_cancel_makes_it_cancelled_once(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    task_id = await create(client)
    response = await client.post(f"/_mock/tasks/{task_id}/cancel")
    assert response.json()["task_status"] == "cancelled"
    clock.advance(100)
    data = (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).json()["data"]
    assert data["task_status"] == "cancelled"
    assert "output" not in data
    envelope(await client.post(f"/_mock/tasks/{task_id}/cancel"), 409, "conflict", "already cancelled")


@pytest.mark.parametrize("method", ["GET", "POST"], ids=["get", "cancel"])
async def test_unknown_task_is_404_naming_the_task_id_not_a_key(client: httpx2.AsyncClient, method: str) -> None:
    path = "/_mock/tasks/nope" + ("/cancel" if method == "POST" else "")
    envelope(await client.request(method, path), 404, "not_found", r"^task_id: no task 'nope'$")


async def test_rules_can_be_replaced_at_runtime(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    rules = {"rules": [{"name": "fail-cats", "match": {"prompt": "cat"}, "outcome": "failed", "duration": 1}]}
    assert (await client.put("/_mock/rules", json=rules)).json() == rules
    assert (await client.get("/_mock/rules")).json() == rules
    task_id = await create(client)
    clock.advance(1)
    data = (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).json()["data"]
    assert data["task_status"] == "failed"
    assert "fail-cats" in data["error"]["message"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        pytest.param({"duration": 10**400}, r"^rules\[0\].duration=1000.* is out of range", id="int-too-big"),
        pytest.param({"latency": 1e308}, r"^rules\[0\].latency=1e\+308 is out of range", id="latency"),
        pytest.param({"name": []}, r"^rules\[0\].name=\[\] is not a string", id="name-list"),
        pytest.param({"match": []}, r"^rules\[0\].match: expected a mapping", id="match-list"),
        pytest.param({"failure": ""}, r"^rules\[0\].failure: expected a mapping", id="failure-empty-string"),
        pytest.param({"failure": {"code": {}}}, r"^rules\[0\].failure.code=\{\} is not a string", id="failure-code"),
        pytest.param({"failure": {"reason": "x"}}, r"^rules\[0\].failure: unknown field", id="failure-unknown"),
        pytest.param({"error": {"status": 450.5}}, r"^rules\[0\].error.status=450.5 is not an integer", id="status"),
        pytest.param({"error": {"type": [1]}}, r"^rules\[0\].error.type=\[1\] is not a string", id="error-type"),
        pytest.param(  # a typo would make a rule that never matches, silently
            {"match": {"model": ["gpt-image-2", "gpt-image2"]}},
            r"^rules\[0\].match.model: 'gpt-image2' is not a model of the spec, so the rule would never match;"
            r" expected one of \[.*'gpt-image-2'.*\]$",
            id="unknown-model",
        ),
        pytest.param(
            {"match": {"function": "images"}},
            r"^rules\[0\].match.function: 'images' is not one of \['audio', 'image', 'video'\]$",
            id="unknown-function",
        ),
    ],
)
async def test_wrongly_typed_rule_fields_are_400_naming_the_field(
    client: httpx2.AsyncClient, rule: dict[str, Any], message: str
) -> None:
    envelope(await client.put("/_mock/rules", json={"rules": [rule]}), 400, "invalid_params", message)
    assert (await client.get("/_mock/rules")).json() == {"rules": []}


async def test_rules_with_a_duration_of_1e309_are_400(client: httpx2.AsyncClient) -> None:
    # json reads 1e309 as float('inf'), which would make the task due at inf (nan at time_scale 0)
    response = await client.put("/_mock/rules", content=b'{"rules": [{"duration": 1e309}]}')
    envelope(response, 400, "invalid_params", r"^rules\[0\].duration=inf is out of range")


async def test_bad_rules_are_400_naming_the_rule(client: httpx2.AsyncClient) -> None:
    response = await client.put("/_mock/rules", json={"rules": [{"outcome": "sometimes"}]})
    envelope(response, 400, "invalid_params", r"rules\[0\].outcome='sometimes'")


async def test_request_journal_is_bounded_and_filterable(make_client) -> None:  # type: ignore[no-untyped-def]
    async with make_client(Settings(journal_size=3)) as client:
        for _ in range(5):
            await client.get("/v1/credits", headers=KEY)
        await client.get("/v1/credits")
        entries = (await client.get("/_mock/requests")).json()["data"]
        assert len(entries) == 3
        failed = (await client.get("/_mock/requests", params={"status": "401"})).json()["data"]
        assert [(e["path"], e["error_type"]) for e in failed] == [("/v1/credits", "access_denied")]
        assert "missing or empty API key" in failed[0]["error_message"]


async def test_the_request_journal_names_the_worker_it_belongs_to_under_workers(
    make_client,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    async with make_client(Settings()) as client:
        assert (await client.get("/_mock/requests")).json()["worker"] is None  # one process: the whole journal
    async with make_client(Settings(workers=2, store=f"sqlite:///{tmp_path / 'w.db'}")) as client:
        journal = (await client.get("/_mock/requests")).json()
        assert journal["worker"] == {"pid": os.getpid(), "of": 2}  # one of `--workers 2`: the one that answered
        check("/_mock/requests", "get", 200, journal)


async def test_reset_forgets_tasks(client: httpx2.AsyncClient) -> None:
    task_id = await create(client)
    await client.post("/_mock/reset")
    assert (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).status_code == 404


async def test_reset_restarts_the_seeded_request_ids(client: httpx2.AsyncClient) -> None:
    first = (await client.get("/v1/credits", headers=KEY)).headers["x-shuyou-requestid"]
    await client.post("/_mock/reset")  # answered with the next id, then the seeded sequence starts again
    assert (await client.get("/v1/credits", headers=KEY)).headers["x-shuyou-requestid"] == first


async def test_a_seeded_task_id_made_again_after_a_reset_has_its_own_file_urls(client: httpx2.AsyncClient) -> None:
    now = {**KEY, "X-Mock-Duration": "0"}  # settled at once: both tasks end at the same instant of the fake clock
    first = await create(client, IMAGE, now)
    before = (await client.get(f"/v1/predictions/{first}", headers=KEY)).json()["data"]["output"]
    await client.post("/_mock/reset")
    again = await create(client, {**IMAGE, "input": {"prompt": "a cat", "num_images": 1}}, now)
    after = (await client.get(f"/v1/predictions/{again}", headers=KEY)).json()["data"]["output"]
    assert again == first  # the seeded ids start over
    assert (len(before), len(after)) == (2, 1)  # the URLs of the task there is now, not of the one reset away
    assert (await client.get(after[0]["image"])).status_code == 200


async def test_control_surface_is_loopback_only(make_client) -> None:  # type: ignore[no-untyped-def]
    async with make_client(client=("10.1.2.3", 4000)) as client:
        envelope(await client.get("/_mock/health"), 403, "access_denied", "loopback clients only")
        assert (await client.get("/openapi.json")).status_code == 200


async def test_admin_token_opens_the_control_surface(make_client) -> None:  # type: ignore[no-untyped-def]
    async with make_client(Settings(admin_token="s3cret"), client=("10.1.2.3", 4000)) as client:
        assert (await client.get("/_mock/health", headers={"Authorization": "Bearer s3cret"})).status_code == 200
        assert (await client.get("/_mock/health", headers={"Authorization": "Bearer nope"})).status_code == 403


async def test_control_openapi_document_lists_the_routes(client: httpx2.AsyncClient) -> None:
    doc = (await client.get("/_mock/openapi.json")).json()
    assert {"/_mock/health", "/_mock/reset", "/_mock/clock/advance", "/_mock/tasks/{task_id}/cancel"} <= set(
        doc["paths"]
    )


async def test_rule_webhook_chaos_reaches_the_task(client: httpx2.AsyncClient) -> None:
    rules = {"rules": [{"match": {"model": IMAGE["model"]}, "webhook_chaos": {"duplicate": 1.0}}]}
    assert (await client.put("/_mock/rules", json=rules)).status_code == 200
    task_id = await create(client)
    assert (await client.get(f"/_mock/tasks/{task_id}")).json()["webhook_chaos"] == {"duplicate": 1.0}


def test_a_config_rule_for_a_model_the_spec_lacks_is_a_startup_error() -> None:
    rules = parse_rules([{"outcome": "failed"}, {"match": {"model": "sora2"}, "outcome": "failed"}])
    with pytest.raises(SettingsError, match=r"^rules\[1\]\.match\.model: 'sora2' is not a model of the spec"):
        create_app(Settings(rules=rules))
