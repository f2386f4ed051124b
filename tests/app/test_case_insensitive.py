"""Enum values the documentation calls case-insensitive (marked `x-case-insensitive` in the spec) take any case."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from mock_server.catalog import load_catalog
from tests.app._support import KEY, create, envelope

pytestmark = pytest.mark.anyio

MARKED = [
    pytest.param(model, name, spelling, id=f"{model}.{name}={spelling}")
    for model, info in load_catalog().models.items()
    for name, spellings in info.case_folds.items()
    for spelling in spellings.values()
]


def body(model: str, **fields: Any) -> dict[str, Any]:
    return {"model": model, "function": load_catalog().models[model].function, "input": {"prompt": "x", **fields}}


def test_gpt_image_2_resolution_is_marked() -> None:
    assert load_catalog().models["gpt-image-2"].case_folds == {"resolution": {"1k": "1K", "2k": "2K", "4k": "4K"}}


@pytest.mark.parametrize(("model", "name", "spelling"), MARKED)
async def test_lower_and_swapped_case_are_accepted(
    client: httpx2.AsyncClient, model: str, name: str, spelling: str
) -> None:
    for value in (spelling.lower(), spelling.swapcase()):
        response = await client.post("/v1/predictions", json=body(model, **{name: value}), headers=KEY)
        assert response.status_code == 200, (value, response.text)


async def test_4k_in_lower_case_is_stored_and_sized_as_4k(client: httpx2.AsyncClient) -> None:
    task_id = await create(client, body("gpt-image-2", resolution="4k", size="16:9"))
    task = (await client.get(f"/_mock/tasks/{task_id}")).json()
    assert task["input"]["resolution"] == "4K"
    width, height = task["outputs"][0]["width"], task["outputs"][0]["height"]
    assert width * height > 7_000_000  # the 4K tier (~8.29 MP), not the 1K default


async def test_a_value_of_no_case_is_still_refused(client: httpx2.AsyncClient) -> None:
    response = await client.post("/v1/predictions", json=body("gpt-image-2", resolution="8k"), headers=KEY)
    envelope(response, 400, "invalid_params", r"input.resolution: '8k' is not one of \['1K', '2K', '4K'\]")


async def test_an_enum_the_docs_do_not_call_case_insensitive_stays_exact(client: httpx2.AsyncClient) -> None:
    response = await client.post(
        "/v1/predictions", json=body("veo-3.1-generate-preview", resolution="1080p"), headers=KEY
    )
    envelope(response, 400, "invalid_params", "input.resolution: '1080p' is not one of")
