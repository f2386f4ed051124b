from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette

from mock_server.settings import Settings
from tests.app._support import IMAGE, KEY, envelope

pytestmark = pytest.mark.anyio

JSON = {**KEY, "Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("content", "headers", "status", "message"),
    [
        pytest.param(b"", JSON, 400, "body: empty", id="empty"),
        pytest.param(b"{", JSON, 400, "malformed JSON at line 1 column 2", id="malformed"),
        pytest.param(b'{"model": "\xff"}', JSON, 400, "not valid UTF-8", id="non-utf8"),
        pytest.param(b"[" * 5000 + b"]" * 5000, JSON, 400, "nested deeper than 32", id="deep"),
        pytest.param(b"[1, 2]", JSON, 400, "expected a JSON object, got list", id="not-object"),
        pytest.param(b"null", JSON, 400, "expected a JSON object, got null", id="null"),
        pytest.param(
            b"{}", {**KEY, "Content-Type": "text/plain"}, 400, "Content-Type: 'text/plain'", id="content-type"
        ),
        pytest.param(b"{}", JSON, 400, "model: is required", id="no-model"),
        pytest.param(b'{"model": NaN}', JSON, 400, "NaN is not valid JSON", id="nan"),
        pytest.param(b'{"model": -Infinity}', JSON, 400, "-Infinity is not valid JSON", id="infinity"),
        pytest.param(b'{"model": ' + b"9" * 5000 + b"}", JSON, 400, "a JSON number has more than", id="huge-integer"),
        pytest.param(b'{"model": "\\ud800"}', JSON, 400, r"^model: a \\u escape is an unpaired", id="lone-surrogate"),
        pytest.param(
            b'{"model": "gpt-image-2", "input": {"prompt": "\\udfff x"}}',
            JSON,
            400,
            r"^input.prompt: a \\u escape is an unpaired UTF-16 surrogate",
            id="lone-surrogate-nested",
        ),
        pytest.param(  # json reads 1e400 as inf, which the schema validator would show as None
            b'{"model": "gpt-image-2", "function": "image", "input": {"prompt": "x", "n": 1e400}}',
            JSON,
            400,
            r"^input.n: the number is out of range \(past a double's 1.8e308\)$",
            id="number-past-double",
        ),
        pytest.param(
            b'{"model": "sora-2", "function": "video", "input": {"prompt": "x", "duration": -1e400}}',
            JSON,
            400,
            r"^input.duration: the number is out of range",
            id="number-past-double-in-a-oneof",
        ),
        pytest.param(
            b'{"model": "gpt-image-2", "function": "image", "input": {"prompt": "x", "n": 1' + b"0" * 400 + b"}}",
            JSON,
            400,
            r"^input.n: 1000\S*\.\.\. is out of range: above the maximum of 10$",  # the value once, shortened
            id="integer-past-the-maximum",
        ),
        pytest.param(
            b'{"model": "gpt-image-2", "function": "video", "input": {"prompt": "x"}}',
            JSON,
            400,
            r"^function: 'video' is not one of \['image'\] \(model gpt-image-2 is an image model\)$",
            id="function-of-another-model",
        ),
    ],
)
async def test_bad_bodies_get_4xx_envelopes(
    client: httpx2.AsyncClient, content: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    response = await client.post("/v1/predictions", content=content, headers=headers)
    envelope(response, status, "invalid_params", message)


async def test_body_over_the_limit_is_413(make_client) -> None:  # type: ignore[no-untyped-def]
    async with make_client(Settings(max_body_bytes=100)) as client:
        response = await client.post("/v1/predictions", content=b"{" + b" " * 200 + b"}", headers=JSON)
    envelope(response, 413, "invalid_params", "over the limit of 100 bytes")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        pytest.param({**IMAGE, "model": "nope"}, 400, r"model: Model nope is not valid", id="unknown-model"),
        pytest.param({**IMAGE, "model": 3}, 400, r"model: 3 is not of type string", id="model-type"),
        pytest.param(
            {**IMAGE, "function": "video"}, 400, r"function: 'video' is not one of \['image'\]", id="function"
        ),
        pytest.param({"model": IMAGE["model"], "function": "image"}, 400, r"^input: is required", id="no-input"),
        pytest.param(
            {**IMAGE, "input": {"prompt": "x", "aspect_ratio": "x"}},
            400,
            r"input.aspect_ratio: 'x' is not one of \['auto', '1:1'",
            id="enum",
        ),
        pytest.param({**IMAGE, "input": {"prompt": "x", "num_images": 11}}, 400, r"input.num_images: 11", id="range"),
        pytest.param({**IMAGE, "input": {"prompt": "x" * 2001}}, 413, r"Prompt is too long: input.prompt", id="prompt"),
        pytest.param({**IMAGE, "webhook": "http://example.com/hook"}, 400, r"^webhook: ", id="webhook-policy"),
    ],
)
async def test_spec_violations_name_the_path_and_rule(
    client: httpx2.AsyncClient, body: dict[str, Any], status: int, message: str
) -> None:
    envelope(await client.post("/v1/predictions", json=body, headers=KEY), status, "invalid_params", message)


async def test_unknown_route_is_404_envelope(client: httpx2.AsyncClient) -> None:
    envelope(await client.get("/v2/nothing"), 404, "not_found", "no route GET /v2/nothing")


async def test_trailing_slash_is_404_not_a_redirect(client: httpx2.AsyncClient) -> None:
    envelope(await client.get("/v1/credits/", headers=KEY), 404, "not_found", "no route GET /v1/credits/")


async def test_wrong_method_is_405_envelope_with_allow(client: httpx2.AsyncClient) -> None:
    response = await client.put("/v1/predictions", headers=KEY)
    envelope(response, 405, "method_not_allowed", "PUT is not allowed")
    assert response.headers["allow"] == "POST"


async def test_injected_error_header(client: httpx2.AsyncClient) -> None:
    response = await client.post("/v1/predictions", json=IMAGE, headers={**KEY, "X-Mock-Error": "503:provider_error"})
    envelope(response, 503, "provider_error", "Injected")


async def test_bad_mock_header_is_400_naming_it(client: httpx2.AsyncClient) -> None:
    response = await client.post("/v1/predictions", json=IMAGE, headers={**KEY, "X-Mock-Outcome": "maybe"})
    envelope(response, 400, "invalid_params", "x-mock-outcome")


async def test_rule_injects_error_for_matching_prompt_only(make_client) -> None:  # type: ignore[no-untyped-def]
    rules = [{"match": {"prompt": "^boom"}, "error": {"status": 500, "type": "provider_api_error"}}]
    async with make_client(Settings.from_mapping({"rules": rules})) as client:
        bad = await client.post("/v1/predictions", json={**IMAGE, "input": {"prompt": "boom now"}}, headers=KEY)
        good = await client.post("/v1/predictions", json=IMAGE, headers=KEY)
    envelope(bad, 500, "provider_api_error", "Injected")
    assert good.status_code == 200


async def test_global_error_applies_to_get_and_credits(make_client) -> None:  # type: ignore[no-untyped-def]
    async with make_client(Settings.from_mapping({"error": {"status": 502, "type": "no_provider_available"}})) as c:
        envelope(await c.get("/v1/credits", headers=KEY), 502, "no_provider_available", "Injected")


async def test_huge_json_numbers_and_strings_never_500(client: httpx2.AsyncClient) -> None:
    body = json.dumps({**IMAGE, "input": {"prompt": "x", "num_images": 10**400}})
    response = await client.post("/v1/predictions", content=body, headers=JSON)
    assert response.status_code == 400


async def test_unexpected_exception_is_500_envelope_and_journaled(
    app: Starlette, client: httpx2.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = app.state.mock.service

    def broken(key: object, task_id: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "get", broken)
    envelope(await client.get("/v1/predictions/x", headers=KEY), 500, "internal_server_error", "RuntimeError")
    with pytest.raises(RuntimeError, match="boom"):
        app.state.mock.journal.check()
