"""`shuyou-mock serve --watch` as a user runs it: a real process, a real config file edited under it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests._support import eventually
from tests.live._cli import served

BODY = {"model": "qwen3-tts-flash", "function": "audio", "input": {"prompt": "fail-me please", "voice": "Cherry"}}


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[httpx2.Client, Path]]:
    config = tmp_path / "mock.yaml"
    config.write_text("failure_probability: 0\n", encoding="utf-8")
    with (
        served("--time-scale", "0", "--watch", "--config", str(config)) as base,
        httpx2.Client(base_url=base, headers={"Authorization": "Bearer sk-watch"}) as client,
    ):
        yield client, config


def replace(config: Path, text: str) -> None:
    """Write the way editors do: a new file renamed over the old one."""
    draft = config.with_suffix(".tmp")
    draft.write_text(text, encoding="utf-8")
    draft.replace(config)


def shown(client: httpx2.Client) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/_mock/config").json()
    return body


def final_status(client: httpx2.Client) -> str:
    task_id = client.post("/v1/predictions", json=BODY).json()["data"]["task_id"]
    return str(client.get(f"/v1/predictions/{task_id}").json()["data"]["task_status"])


def test_edited_rules_apply_without_a_restart_and_a_broken_file_changes_nothing(
    watched: tuple[httpx2.Client, Path],
) -> None:
    client, config = watched
    assert final_status(client) == "success"
    replace(config, "rules:\n  - match: {prompt: fail-me}\n    outcome: failed\n")
    eventually(lambda: shown(client)["reloads"] == 1)
    assert shown(client)["applied"] == ["rules"]  # --time-scale 0 from the command line still holds
    assert final_status(client) == "failed"
    replace(config, "rules:\n  - match: {prompt: fail-me}\n    outcome: [broken\n")
    eventually(lambda: shown(client)["state"] == "invalid")
    assert "not valid YAML" in shown(client)["error"]
    assert final_status(client) == "failed"  # the last good file is still in force
    assert len(client.get("/_mock/tasks").json()["data"]) == 3  # nothing was lost on the way
