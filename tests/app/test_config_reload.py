"""Config hot reload (`serve --watch`) in-process: each poll is called by the test, no waiting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from mock_server.app import create_app
from mock_server.clock import FakeClock
from mock_server.config import load_settings
from mock_server.settings import Settings
from mock_server.watch import ConfigWatcher, changed_fields, watching
from tests.app._support import IMAGE, KEY, create
from tests.app.test_control_doc import check

pytestmark = pytest.mark.anyio
FAIL_CATS = "rules:\n  - match: {prompt: cat}\n    outcome: failed\n"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "mock.yaml"
    path.write_text("failure_probability: 0\n", encoding="utf-8")
    return path


@pytest.fixture
async def watched(config: Path, clock: FakeClock) -> AsyncIterator[tuple[httpx2.AsyncClient, ConfigWatcher]]:
    def load() -> Settings:
        return load_settings({}, config, seed=7)

    app = create_app(load(), clock=clock)
    watcher = ConfigWatcher(config, load, app.state.mock, loaded=load())
    transport = httpx2.ASGITransport(app=watching(app, watcher))
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        yield client, watcher
    app.state.mock.journal.check()


async def status(client: httpx2.AsyncClient, task_id: str) -> str:
    response = await client.get(f"/v1/predictions/{task_id}", headers=KEY)
    return str(response.json()["data"]["task_status"])


async def test_new_rules_apply_to_later_tasks_and_earlier_tasks_stay(
    watched: tuple[httpx2.AsyncClient, ConfigWatcher], config: Path, clock: FakeClock
) -> None:
    client, watcher = watched
    before = await create(client)
    assert not watcher.poll()  # nothing changed yet
    config.write_text(FAIL_CATS, encoding="utf-8")
    assert watcher.poll()
    after = await create(client, IMAGE)
    clock.advance(3600)
    assert (await status(client, before), await status(client, after)) == ("success", "failed")
    shown = (await client.get("/_mock/config")).json()
    check("/_mock/config", "get", 200, shown)
    assert shown["watching"] is True
    assert (shown["state"], shown["reloads"], shown["applied"]) == ("ok", 1, ["rules"])
    assert (await client.get("/_mock/rules")).json()["rules"][0]["outcome"] == "failed"


async def test_an_invalid_file_is_reported_and_the_last_good_one_stays(
    watched: tuple[httpx2.AsyncClient, ConfigWatcher], config: Path, clock: FakeClock
) -> None:
    client, watcher = watched
    config.write_text(FAIL_CATS, encoding="utf-8")
    watcher.poll()
    config.write_text("failure_probability: 2\n", encoding="utf-8")
    assert watcher.poll()
    shown = (await client.get("/_mock/config")).json()
    check("/_mock/config", "get", 200, shown)
    assert shown["state"] == "invalid"
    assert "failure_probability=2.0 must be in [0, 1]" in shown["error"]
    task_id = await create(client)
    clock.advance(3600)
    assert await status(client, task_id) == "failed"  # the last good rules are still in force
    config.write_text("{not yaml", encoding="utf-8")
    watcher.poll()
    assert "not valid YAML" in (await client.get("/_mock/config")).json()["error"]
    config.write_text("rules: [{match: {model: gpt-image2}, outcome: success}]\n", encoding="utf-8")
    watcher.poll()  # a rule for a model the spec does not have would never match: refused like a bad value
    assert (
        "rules[0].match.model: 'gpt-image2' is not a model of the spec"
        in (await client.get("/_mock/config")).json()["error"]
    )
    assert (await client.get("/_mock/rules")).json()["rules"][0]["outcome"] == "failed"


async def test_settings_that_need_a_restart_are_named(
    watched: tuple[httpx2.AsyncClient, ConfigWatcher], config: Path
) -> None:
    client, watcher = watched
    config.write_text("journal_size: 5\nlatency: 0\ndiscount_percent: 0.5\n", encoding="utf-8")
    watcher.poll()
    shown = (await client.get("/_mock/config")).json()
    assert shown["applied"] == ["discount_percent"]
    assert shown["needs_restart"] == ["journal_size"]


async def test_without_watch_the_config_route_says_so(client: httpx2.AsyncClient) -> None:
    assert (await client.get("/_mock/config")).json() == {"watching": False}


def test_changed_fields() -> None:
    assert changed_fields(Settings(), Settings(latency=1.0, seed=3)) == ("seed", "latency")
