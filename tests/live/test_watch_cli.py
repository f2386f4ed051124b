"""`shuyou-mock serve --watch` as a user runs it: a real process, a real config file edited under it."""

from __future__ import annotations

import re
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


def test_with_workers_every_worker_reloads_the_file(tmp_path: Path) -> None:
    """Each worker holds its own settings, so each must reload them; the kernel picks which one accepts a
    connection (mostly the same one when idle), so the workers are told apart by their log lines."""
    config = tmp_path / "mock.yaml"
    config.write_text("failure_probability: 0\n", encoding="utf-8")
    log = tmp_path / "mock.log"
    args = ("--workers", "2", "--store", f"sqlite:///{tmp_path / 'w.db'}", "--time-scale", "0")
    with log.open("w") as err, served(*args, "--watch", "--config", str(config), stderr=err) as base:
        eventually(lambda: len(_started_workers(log)) == 2, timeout=30)
        replace(config, "rules:\n  - match: {prompt: fail-me}\n    outcome: failed\n")
        eventually(lambda: _reloaded_in(log) == _started_workers(log), timeout=30)
        with httpx2.Client(base_url=base, headers={"Authorization": "Bearer sk-watch"}) as client:
            assert shown(client)["reloads"] == 1
            assert shown(client)["process"] in _started_workers(log)
            assert final_status(client) == "failed"


def _started_workers(log: Path) -> set[int]:
    return {int(m) for m in re.findall(r"Started server process \[(\d+)\]", log.read_text())}


def _reloaded_in(log: Path) -> set[int]:
    return {int(m) for m in re.findall(r"--watch: reloaded .* \[(\d+)\]", log.read_text())}


@pytest.mark.parametrize("workers", [[], ["--workers", "2", "--store", "sqlite:///{tmp}/w.db"]])
def test_watch_without_a_config_file_is_a_startup_error(
    workers: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mock_server.cli import main

    monkeypatch.delenv("MOCK_CONFIG", raising=False)
    assert main(["serve", "--port", "0", "--watch", *(a.format(tmp=tmp_path) for a in workers)]) == 2
    assert "--watch: there is no file to watch; give --config <file.yaml>" in capsys.readouterr().err
