"""What a user sees survives a restart on the SQLite store: ids never reused, seeded ids reproducible, the clock."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from mock_server.app import create_app
from mock_server.settings import Settings

KEY = {"Authorization": "Bearer sk-restart"}
BODY = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "a fox"}}

pytestmark = pytest.mark.anyio


async def run(url: str, *, creates: int = 0, advance: float = 0.0) -> tuple[list[str], float]:
    """A fresh app (a restarted mock) on store `url`: its first task ids and its clock's now."""
    app = create_app(Settings(seed=1, store=url))
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        ids = [(await client.post("/v1/predictions", json=BODY, headers=KEY)).json()["data"]["task_id"]]
        ids += [
            (await client.post("/v1/predictions", json=BODY, headers=KEY)).json()["data"]["task_id"]
            for _ in range(creates - 1)
        ]
        if advance:
            await client.post("/_mock/clock/advance", json={"seconds": advance})
        now = float((await client.get("/_mock/clock")).json()["now"])
    app.state.mock.store.close()
    return ids, now


async def test_seeded_ids_repeat_on_a_fresh_store_and_never_after_a_restart(tmp_path: Path) -> None:
    first, _ = await run(f"sqlite:///{tmp_path / 'a.db'}", creates=3)
    again, _ = await run(f"sqlite:///{tmp_path / 'b.db'}", creates=3)
    assert first == again  # same seed, fresh store: the same ids
    restarted, _ = await run(f"sqlite:///{tmp_path / 'a.db'}", creates=3)
    assert not set(restarted) & set(first)  # the same seed after a restart: never an id handed out before


async def test_the_clock_offset_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'clock.db'}"
    _, before = await run(url, creates=1, advance=3599.0)
    _, after = await run(url, creates=1)
    assert after >= before  # time went back 3,599 s here before the offset was kept


async def test_a_webhook_id_is_not_reused_after_reset_and_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'epoch.db'}"
    hook = {**BODY, "webhook": "http://127.0.0.1:9/hook"}

    async def one_delivery(*, reset: bool) -> tuple[str, str]:
        app = create_app(Settings(seed=1, store=url))
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as c:
            task_id = (await c.post("/v1/predictions", json=hook, headers=KEY)).json()["data"]["task_id"]
            await c.post("/_mock/clock/advance", json={"seconds": 60})
            (delivery,) = (await c.get("/_mock/webhooks", params={"task_id": task_id})).json()["deliveries"]
            if reset:
                await c.post("/_mock/reset")
        app.state.mock.store.close()
        return task_id, delivery["delivery_id"]

    first_task, first_id = await one_delivery(reset=True)
    again_task, again_id = await one_delivery(reset=False)
    assert again_task == first_task  # a reset store hands out the seeded ids again, as a fresh one would
    assert again_id != first_id  # but receivers dedupe on webhook-id: that one is new
