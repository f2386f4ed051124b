from __future__ import annotations

import io
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from PIL import Image

from mock_server.clock import FakeClock
from mock_server.fileurls import FileSigner
from mock_server.settings import Settings
from tests.app._support import IMAGE, KEY, create, envelope

pytestmark = pytest.mark.anyio


async def outputs(client: httpx2.AsyncClient, clock: FakeClock, body: dict[str, Any] = IMAGE) -> list[dict[str, str]]:
    task_id = await create(client, body)
    clock.advance(60)
    result: list[dict[str, str]] = (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).json()["data"][
        "output"
    ]
    return result


async def test_one_image_per_requested_image_with_the_aspect_ratio(
    client: httpx2.AsyncClient, clock: FakeClock
) -> None:
    body = {**IMAGE, "input": {"prompt": "x", "num_images": 3, "aspect_ratio": "16:9", "output_format": "jpeg"}}
    items = await outputs(client, clock, body)
    assert len(items) == 3
    response = await client.get(items[0]["image"])
    assert response.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG"
    assert image.width / image.height == pytest.approx(16 / 9, rel=0.02)


async def test_url_carries_expiry_and_token(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    url = (await outputs(client, clock))[0]["image"]
    query = parse_qs(urlsplit(url).query)
    assert int(query["e"][0]) == int(clock.now() - 50 + 86_400)
    assert query["token"][0]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda u: u.replace("token=", "token=A"), id="token"),
        pytest.param(lambda u: u.replace("e=", "e=9"), id="expiry"),
        pytest.param(lambda u: u.replace("e=", "e=%C2%B2"), id="expiry-not-ascii"),
        pytest.param(lambda u: u.replace("e=", "e=" + "9" * 5000), id="expiry-huge"),
        pytest.param(lambda u: u.replace("token=", "token=%C3%A9"), id="token-not-ascii"),
        pytest.param(lambda u: u.replace("/0.png", "/1.png"), id="path"),
        pytest.param(lambda u: u.split("?")[0], id="no-query"),
    ],
)
async def test_tampered_url_is_403(client: httpx2.AsyncClient, clock: FakeClock, tamper) -> None:  # type: ignore[no-untyped-def]
    url = (await outputs(client, clock))[0]["image"]
    envelope(await client.get(tamper(url)), 403, "access_denied", "file URL")


async def test_expired_url_is_403(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    url = (await outputs(client, clock))[0]["image"]
    assert (await client.get(url)).status_code == 200
    clock.advance(86_400)
    envelope(await client.get(url), 403, "access_denied", "expired")


@pytest.mark.parametrize("expiry", ["999999999999999999", "1900000000"])
async def test_url_forged_with_the_public_secret_and_a_far_future_expiry_is_403(
    client: httpx2.AsyncClient, clock: FakeClock, expiry: str
) -> None:
    url = (await outputs(client, clock))[0]["image"]
    path = urlsplit(url).path
    task_id, name = path.split("/")[-2:]
    forged = FileSigner(Settings().url_secret, 86_400).path(task_id, name, int(expiry))  # the documented default
    envelope(await client.get(forged), 403, "access_denied", "later than any URL the mock issues")
    clock.advance(25 * 3600)  # and still refused a day later
    envelope(await client.get(forged), 403, "access_denied", "file URL")


async def test_an_expiry_at_the_edge_of_url_ttl_is_honoured(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    url = (await outputs(client, clock))[0]["image"]
    task_id, name = urlsplit(url).path.split("/")[-2:]
    edge = FileSigner(Settings().url_secret, 86_400).path(task_id, name, int(clock.now() + 86_400))
    assert (await client.get(edge)).status_code == 200


async def test_format_fallback_is_labelled(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    body = {
        "model": "speech-2.8-hd",
        "function": "audio",
        "input": {"prompt": "hi", "voice": "Grinch", "format": "flac"},
    }
    item = (await outputs(client, clock, body))[0]
    assert item["audio"].split("?")[0].endswith(".wav")
    response = await client.get(item["audio"])
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["x-mock-format-fallback"] == "flac -> wav"
