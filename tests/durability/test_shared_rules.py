"""Rules set at runtime (`PUT /_mock/rules`) hold in every process on a shared store, and across a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx2

from tests.durability.conftest import MockProcess

BODY = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "fail-me please"}}
FAIL = {"rules": [{"match": {"prompt": "fail-me"}, "outcome": "failed"}]}


def outcome(client: httpx2.Client) -> str:
    """The final status of a task created through `client` (the clock is moved past any duration)."""
    task_id = client.post("/v1/predictions", json=BODY).json()["data"]["task_id"]
    client.post("/_mock/clock/advance", json={"seconds": 600})
    return str(client.get(f"/v1/predictions/{task_id}").json()["data"]["task_status"])


def test_rules_put_on_one_process_apply_on_the_other_and_reset_restores_them(
    processes: Callable[..., MockProcess], redis_url: str
) -> None:
    one, two = processes(redis_url), processes(redis_url)
    with one.client() as a, two.client() as b:
        assert outcome(b) == "success"
        assert a.put("/_mock/rules", json=FAIL).status_code == 200
        assert b.get("/_mock/rules").json() == FAIL  # before its next answer
        assert outcome(b) == "failed"
        b.post("/_mock/reset")  # back to each process's config rules (none here), on both
        assert a.get("/_mock/rules").json() == {"rules": []}
        assert outcome(a) == "success"


def test_rules_put_survive_a_kill_9_and_an_edited_config_file_wins_over_them(
    processes: Callable[..., MockProcess], tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'rules.db'}"
    config = tmp_path / "mock.yaml"
    config.write_text("failure_probability: 0\n", encoding="utf-8")
    first = processes(store, "--config", str(config))
    with first.client() as client:
        client.put("/_mock/rules", json=FAIL)
    first.kill()
    again = processes(store, "--config", str(config))
    with again.client() as client:
        assert client.get("/_mock/rules").json() == FAIL
        assert outcome(client) == "failed"
    again.kill()
    config.write_text("rules:\n  - match: {prompt: other}\n    outcome: failed\n", encoding="utf-8")
    edited = processes(store, "--config", str(config))
    with edited.client() as client:
        assert client.get("/_mock/rules").json() == {"rules": [{"match": {"prompt": "other"}, "outcome": "failed"}]}
        assert outcome(client) == "success"
