"""Shared constants and helpers for the in-process app tests."""

from __future__ import annotations

import re
from typing import Any

import httpx2

KEY = {"Authorization": "Bearer sk-one"}
OTHER = {"Authorization": "Bearer sk-two"}
IMAGE = {"model": "gemini-2.5-flash-image", "function": "image", "input": {"prompt": "a cat", "num_images": 2}}
VIDEO = {"model": "veo-3.1-lite-generate-preview", "function": "video", "input": {"prompt": "a lion", "duration": 4}}
AUDIO = {"model": "qwen3-tts-flash", "function": "audio", "input": {"prompt": "Welcome", "voice": "Cherry"}}


async def create(client: httpx2.AsyncClient, body: dict[str, Any] = IMAGE, headers: dict[str, str] = KEY) -> str:
    response = await client.post("/v1/predictions", json=body, headers=headers)
    assert response.status_code == 200, response.text
    task_id: str = response.json()["data"]["task_id"]
    return task_id


def envelope(response: httpx2.Response, status: int, error_type: str, message: str) -> None:
    """Assert the error envelope: status, code, type, a message matching `message`, and the request id header."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == str(status)
    assert body["error"]["type"] == error_type
    assert re.search(message, body["error"]["message"]), body["error"]["message"]
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-shuyou-requestid"])
