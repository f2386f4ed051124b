from __future__ import annotations

import json
import re
from typing import Any

import anyio
import httpx2
import pytest
import yaml

import openapi
from mock_server import routes
from mock_server.clock import FakeClock
from mock_server.settings import Price, Settings
from tests.app._support import AUDIO, IMAGE, KEY, OTHER, VIDEO, create

pytestmark = pytest.mark.anyio


async def test_create_returns_processing_with_32_hex_id(client: httpx2.AsyncClient) -> None:
    response = await client.post("/v1/predictions", json=IMAGE, headers=KEY)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data"}
    assert body["data"]["task_status"] == "processing"
    assert re.fullmatch(r"[0-9a-f]{32}", body["data"]["task_id"])
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-shuyou-requestid"])


async def test_task_stays_processing_until_its_duration_then_succeeds(
    client: httpx2.AsyncClient, clock: FakeClock
) -> None:
    task_id = await create(client)
    clock.advance(9.9)
    assert (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).json()["data"]["task_status"] == "processing"
    clock.advance(0.1)
    body = (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).json()
    assert body["code"] == "0"
    assert body["data"]["task_status"] == "success"
    assert [o["type"] for o in body["data"]["output"]] == ["image", "image"]
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])


@pytest.mark.parametrize(("body", "seconds"), [(VIDEO, 60.0), (AUDIO, 5.0)], ids=["video", "audio"])
async def test_per_function_durations(
    client: httpx2.AsyncClient, clock: FakeClock, body: dict[str, Any], seconds: float
) -> None:
    task_id = await create(client, body)
    clock.advance(seconds - 0.5)
    assert (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).json()["data"]["task_status"] == "processing"
    clock.advance(0.5)
    data = (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).json()["data"]
    assert data["output"] == [{"type": body["function"], body["function"]: data["output"][0][body["function"]]}]


async def test_usage_arithmetic_on_success(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    task_id = await create(client)
    clock.advance(10)
    usage = (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).json()["usage"]
    assert usage["upstream_cost"] == pytest.approx(2 * 0.039)
    assert usage["discount_percent"] == 0.75
    assert usage["cost"] == pytest.approx(usage["upstream_cost"] * 0.75)
    assert usage["discount"] == pytest.approx(usage["upstream_cost"] - usage["cost"])


async def test_video_price_is_per_second_and_config_can_override(make_client, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(seed=1, model_prices={"veo-3.1-lite-generate-preview": Price(0.5, "second")})
    async with make_client(settings) as client:
        task_id = await create(client, VIDEO)
        clock.advance(60)
        usage = (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).json()["usage"]
    assert usage["upstream_cost"] == pytest.approx(4 * 0.5)


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"duration": 1e309}, id="duration-inf"),  # json reads 1e309 as float('inf')
        pytest.param({"duration": -5}, id="duration-negative"),
        pytest.param({"size": True, "aspect_ratio": 3}, id="size-types"),
    ],
)
async def test_fields_a_model_does_not_declare_do_not_shape_outputs_or_cost(
    client: httpx2.AsyncClient, clock: FakeClock, extra: dict[str, Any]
) -> None:
    # happyhorse-1.0-video-edit declares prompt, resolution, ... but no duration, n or size, and its input
    # schema allows other fields: they are accepted and ignored (they used to make usage Infinity or a 500).
    body = {"model": "happyhorse-1.0-video-edit", "function": "video", "input": {"prompt": "x", **extra}}
    raw = json.dumps(body).encode()  # allow_nan: inf goes out as Infinity, which the mock reads as 1e309 would be
    raw = raw.replace(b"Infinity", b"1e309")
    created = await client.post("/v1/predictions", content=raw, headers={**KEY, "Content-Type": "application/json"})
    assert created.status_code == 200, created.text
    clock.advance(600)
    polled = await client.get(f"/v1/predictions/{created.json()['data']['task_id']}", headers=KEY)
    body_out = json.loads(polled.content, parse_constant=lambda name: pytest.fail(f"{name} in the body"))
    assert len(body_out["data"]["output"]) == 1
    assert 0 < body_out["usage"]["upstream_cost"] < 100
    credits = json.loads((await client.get("/v1/credits", headers=KEY)).content, parse_constant=pytest.fail)
    assert credits["data"]["balance"] > 0


async def test_forced_failure_by_header_has_error_and_no_usage(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    response = await client.post("/v1/predictions", json=IMAGE, headers={**KEY, "X-Mock-Outcome": "failed"})
    clock.advance(10)
    body = (await client.get(f"/v1/predictions/{response.json()['data']['task_id']}", headers=KEY)).json()
    assert body["data"]["task_status"] == "failed"
    assert set(body["data"]["error"]) == {"code", "message"}
    assert "usage" not in body
    assert "output" not in body["data"]


async def test_duration_header_is_exact_mock_seconds(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    response = await client.post("/v1/predictions", json=IMAGE, headers={**KEY, "X-Mock-Duration": "2"})
    task_id = response.json()["data"]["task_id"]
    clock.advance(2)
    assert (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).json()["data"]["task_status"] == "success"


async def test_terminal_state_never_changes(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    response = await client.post("/v1/predictions", json=IMAGE, headers={**KEY, "X-Mock-Outcome": "failed"})
    task_id = response.json()["data"]["task_id"]
    clock.advance(10)
    first = (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).json()["data"]
    clock.advance(10_000)
    again = (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).json()["data"]
    assert first == again


async def test_other_key_gets_404(client: httpx2.AsyncClient) -> None:
    task_id = await create(client)
    response = await client.get(f"/v1/predictions/{task_id}", headers=OTHER)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


async def test_unknown_task_is_404_in_envelope(client: httpx2.AsyncClient) -> None:
    response = await client.get("/v1/predictions/" + "0" * 32, headers=KEY)
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "404", "type": "not_found", "message": response.json()["error"]["message"]}
    }
    assert "Prediction not found" in response.json()["error"]["message"]


async def test_time_scale_zero_finishes_at_once(make_client) -> None:  # type: ignore[no-untyped-def]
    async with make_client(Settings(seed=1, time_scale=0)) as client:
        task_id = await create(client, VIDEO)
        body = (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).json()
    assert body["data"]["task_status"] == "success"


async def test_same_seed_same_ids_and_outcomes(make_client) -> None:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(2):
        async with make_client(Settings(seed=42, failure_probability=0.5, time_scale=0)) as client:
            ids = [await create(client) for _ in range(8)]
            statuses = [
                (await client.get(f"/v1/predictions/{t}", headers=KEY)).json()["data"]["task_status"] for t in ids
            ]
        runs.append((ids, statuses))
    assert runs[0] == runs[1]
    assert set(runs[0][1]) == {"success", "failed"}


async def test_spec_is_served_as_json_and_yaml(client: httpx2.AsyncClient) -> None:
    as_json = await client.get("/openapi.json")
    as_yaml = await client.get("/openapi.yaml")
    assert as_json.json()["openapi"].startswith("3.1")
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert b"createPrediction" in as_yaml.content
    # the served copy points tools generated from it at this mock first, the real API second
    base = str(client.base_url).rstrip("/")
    assert [s["url"] for s in as_json.json()["servers"]] == [base, "https://api.shuyou.ai"]
    assert yaml.safe_load(as_yaml.content)["servers"] == as_json.json()["servers"]


async def test_latency_header_holds_the_answer_while_others_are_answered(client: httpx2.AsyncClient) -> None:
    answered: list[str] = []

    async def get(latency: str | None) -> None:
        headers = {**KEY, "X-Mock-Latency": latency} if latency is not None else KEY
        response = await client.get("/v1/credits", headers=headers)
        answered.append(f"{latency}: {response.status_code}")

    async with anyio.create_task_group() as tg:
        tg.start_soon(get, "60")
        tg.start_soon(get, None)
        tg.start_soon(get, "0")
        await anyio.wait_all_tasks_blocked()  # every request is answered or waiting: no wall time spent
        assert sorted(answered) == ["0: 200", "None: 200"]  # the 60 s one is still waiting (the seconds: unit test)
        tg.cancel_scope.cancel()


async def test_rules_match_on_key(make_client, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    settings = Settings.from_mapping({"rules": [{"match": {"key": "sk-two"}, "outcome": "failed"}]})
    async with make_client(settings) as client:
        mine = await create(client)
        theirs = await create(client, IMAGE, OTHER)
        clock.advance(10)
        assert (await client.get(f"/v1/predictions/{mine}", headers=KEY)).json()["data"]["task_status"] == "success"
        assert (await client.get(f"/v1/predictions/{theirs}", headers=OTHER)).json()["data"]["task_status"] == "failed"


async def test_injected_error_on_get(client: httpx2.AsyncClient) -> None:
    task_id = await create(client)
    response = await client.get(f"/v1/predictions/{task_id}", headers={**KEY, "X-Mock-Error": "500"})
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "internal_server_error"


def _load_yaml(text: bytes) -> Any:
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # the C parser: 150 kB, 20 times


async def test_the_served_spec_is_rendered_once_however_many_hosts_ask(client: httpx2.AsyncClient) -> None:
    routes._rendered_spec.cache_clear()
    for n in range(20):
        host = f"mock-{n}.localhost:{8000 + n}"  # loopback names: other Hosts are refused (421)
        for path, parse in (("/openapi.yaml", _load_yaml), ("/openapi.json", json.loads)):
            served = parse((await client.get(path, headers={"Host": host})).content)
            assert served["servers"][0] == {"url": f"http://{host}", "description": "this mock"}
            assert served["paths"].keys() == openapi.load_spec()["paths"].keys()
    assert routes._rendered_spec.cache_info().misses == 2  # one rendering per format, not one per Host


async def test_a_quote_in_the_host_header_stays_inside_the_server_url(client: httpx2.AsyncClient) -> None:
    for path, parse in (("/openapi.yaml", _load_yaml), ("/openapi.json", json.loads)):
        served = parse((await client.get(path, headers={"Host": "it's.localhost:8000"})).content)
        assert served["servers"] == [
            {"url": "http://it's.localhost:8000", "description": "this mock"},
            {"url": "https://api.shuyou.ai"},
        ]


def test_live_tasks_share_one_input_dict_per_distinct_input_without_merging_types() -> None:
    from mock_server.service import _shared_input

    assert _shared_input({"prompt": "a", "n": 1}) is _shared_input({"prompt": "a", "n": 1})
    assert [type(_shared_input({"n": v})["n"]) for v in (1, 1.0, True)] == [int, float, bool]
    nested = {"prompt": "a", "image_urls": ["https://x"]}
    assert _shared_input(nested) is nested  # kept as it came
