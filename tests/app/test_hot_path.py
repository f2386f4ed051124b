"""The request hot path of issue 9: the batched due-task timer on a running clock, the metrics tallies, and the
API answered by MockMiddleware without the router (HEAD and other methods still take the router)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx2
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from mock_server.app import create_app
from mock_server.clock import FakeClock
from mock_server.metrics import BUCKETS
from mock_server.service import RECIPE_MAX_BYTES, RECIPES_KEPT, SETTLE_BATCH
from mock_server.settings import Price, Settings
from tests.app._support import IMAGE, KEY, create, envelope

pytestmark = pytest.mark.anyio


class RunningClock:
    """A clock that says it runs on its own (so the service batches its timer) but moves only when set."""

    def __init__(self, now: float) -> None:
        self.t = now
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        return self.t

    @property
    def running(self) -> bool:
        return True

    def advance(self, seconds: float) -> float:
        self.t += seconds
        return self.t

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)


async def test_a_read_of_the_control_surface_settles_what_the_batched_timer_has_not_reached() -> None:
    start = 1_800_000_000.0
    clock = RunningClock(start)
    app = create_app(Settings(seed=7), clock=clock)
    scheduler = app.state.mock.scheduler
    events: list[tuple[str, str]] = []
    # a subscriber that sees every task: its settling is observed when it happens, so it keeps its timer
    app.state.mock.service.subscribe(lambda p, event, body: events.append((p.task_id, event)))
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        first = await create(client, IMAGE, {**KEY, "X-Mock-Duration": "10"})
        second = await create(client, IMAGE, {**KEY, "X-Mock-Duration": "10.002"})
        clock.t = start + 10
        await scheduler.run_due()  # what the timer loop does when the first task is due
        # the next wake waits for the batch, not for the second task's due time
        assert scheduler.next_due() == pytest.approx(start + 10 + SETTLE_BATCH)
        clock.t = start + 10.003  # the second task is due; the timer is not
        listed = (await client.get("/_mock/tasks", params={"status": "processing"})).json()["data"]
        assert listed == []
        tasks = {t["task_id"]: t["task_status"] for t in (await client.get("/_mock/tasks")).json()["data"]}
        assert tasks == {first: "success", second: "success"}
    assert events == [(first, "success"), (second, "success")]
    app.state.mock.journal.check()


async def test_a_task_nobody_watches_gets_no_timer_and_every_read_settles_it_first() -> None:
    start = 1_800_000_000.0
    clock = RunningClock(start)
    app = create_app(Settings(seed=7), clock=clock)
    mock = app.state.mock
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        polled = await create(client, IMAGE, {**KEY, "X-Mock-Duration": "10"})
        listed = await create(client, IMAGE, {**KEY, "X-Mock-Duration": "10", "X-Mock-Outcome": "failed"})
        assert mock.scheduler.next_due() is None  # no webhook, no subscriber: no timer
        clock.t = start + 10
        assert mock.store.get(listed).status == "processing"  # nothing ran at the due time...
        poll = (await client.get(f"/v1/predictions/{polled}", headers=KEY)).json()
        assert poll["data"]["task_status"] == "success"  # ...but a poll sees its task ended
        assert mock.store.get(listed).status == "processing"
        tasks = {t["task_id"]: t["task_status"] for t in (await client.get("/_mock/tasks")).json()["data"]}
        assert tasks == {polled: "success", listed: "failed"}  # and a listing sees every task due
    mock.journal.check()


async def test_a_create_on_a_finite_balance_settles_the_quiet_tasks_due_first() -> None:
    start = 1_800_000_000.0
    clock = RunningClock(start)
    app = create_app(Settings(seed=7, default_balance=0.1), clock=clock)  # one image task holds 0.0585
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        await create(client, IMAGE, {**KEY, "X-Mock-Duration": "10", "X-Mock-Outcome": "failed"})
        refused = await client.post("/v1/predictions", json=IMAGE, headers=KEY)
        assert refused.status_code == 402, refused.text  # the first task's hold leaves too little
        clock.t = start + 10  # it has failed by now, releasing its hold, though no timer ran
        await create(client, IMAGE, KEY)
    app.state.mock.journal.check()


async def test_request_latency_buckets_match_prometheus_client(client: httpx2.AsyncClient, app: Starlette) -> None:
    await client.get("/metrics")  # the first request builds the middleware stack
    mock = app.middleware_stack.app  # type: ignore[union-attr]  # ServerErrorMiddleware -> MockMiddleware
    seconds = [0.0001, *BUCKETS, 0.003, 11.0]  # each bound itself counts in its own bucket (le)
    registry = CollectorRegistry()
    reference = Histogram("reference", "same values", buckets=BUCKETS, registry=registry)
    for value in seconds:
        mock.metrics.observe("probe", 200, value)
        reference.observe(value)
    text = (await client.get("/metrics")).text
    ours = {
        s.labels["le"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "shuyou_mock_request_duration_seconds_bucket" and s.labels.get("operation") == "probe"
    }
    theirs = {
        s.labels["le"]: s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
        if s.name == "reference_bucket"
    }
    assert ours == theirs
    assert len(ours) == len(BUCKETS) + 1


async def test_head_and_a_method_the_route_lacks_still_take_the_router(client: httpx2.AsyncClient) -> None:
    task_id = await create(client)
    head = await client.head(f"/v1/predictions/{task_id}", headers=KEY)
    assert head.status_code == 200
    assert head.content == b""
    assert "x-shuyou-requestid" in head.headers
    refused = await client.put("/v1/predictions", headers=KEY)
    assert refused.status_code == 405
    assert refused.json()["error"]["type"] == "method_not_allowed"


async def test_api_answers_keep_their_bodies_for_the_inspector(client: httpx2.AsyncClient, app: Starlette) -> None:
    answer = await client.post("/v1/predictions", json=IMAGE, headers=KEY)
    bodies = app.state.inspector_bodies
    kept = bodies.get(answer.headers["x-shuyou-requestid"])
    assert kept is not None
    assert kept.request == answer.request.content
    assert kept.response == answer.content
    refused = await client.post("/v1/predictions", json={"model": "nope"}, headers=KEY)
    assert refused.status_code == 400
    kept = bodies.get(refused.headers["x-shuyou-requestid"])
    assert kept is not None
    assert kept.response == refused.content


async def test_advancing_a_running_clock_ends_the_quiet_tasks_due_at_once() -> None:
    start = 1_800_000_000.0
    clock = RunningClock(start)
    app = create_app(Settings(seed=7), clock=clock)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        task_id = await create(client, IMAGE, {**KEY, "X-Mock-Duration": "10"})
        assert (await client.post("/_mock/clock/advance", json={"seconds": 10})).status_code == 200
        assert app.state.mock.store.get(task_id).status == "success"  # no read of the task needed
    app.state.mock.journal.check()


async def test_a_body_sent_again_is_priced_by_the_settings_of_the_moment(app: Starlette, clock: FakeClock) -> None:
    # The service keeps what a body decides (`_recipe`); a reload of the prices (`--watch`) must reach a body
    # it has seen before, and a task already created keeps the price it was created with.
    service = app.state.mock.service
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        before = [await create(client) for _ in range(2)]
        price = Price(1.25, "image")
        service.reconfigure(service.settings.replace(model_prices={IMAGE["model"]: price}), rules=False)
        after = await create(client)
        clock.advance(10)
        costs = [
            (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).json()["usage"]["upstream_cost"]
            for task_id in (*before, after)
        ]
    assert costs == [pytest.approx(2 * 0.039), pytest.approx(2 * 0.039), pytest.approx(2 * 1.25)]


async def test_the_same_bytes_under_another_content_type_are_refused(client: httpx2.AsyncClient) -> None:
    raw = json.dumps(IMAGE).encode()
    accepted = await client.post("/v1/predictions", content=raw, headers={**KEY, "Content-Type": "application/json"})
    assert accepted.status_code == 200, accepted.text
    refused = await client.post("/v1/predictions", content=raw, headers={**KEY, "Content-Type": "text/plain"})
    envelope(refused, 400, "invalid_params", "Content-Type: 'text/plain' is not supported")


async def test_a_refused_body_is_refused_again_with_the_same_message(client: httpx2.AsyncClient) -> None:
    body = {**IMAGE, "input": {"prompt": "a cat", "num_images": "two"}}
    first, second = [await client.post("/v1/predictions", json=body, headers=KEY) for _ in range(2)]
    assert first.status_code == second.status_code == 400
    assert first.json()["error"]["message"] == second.json()["error"]["message"]
    assert "input.num_images" in first.json()["error"]["message"]


async def test_what_distinct_bodies_leave_behind_is_bounded(app: Starlette) -> None:
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        for i in range(RECIPES_KEPT + 50):
            await create(client, {**IMAGE, "input": {"prompt": f"cat {i}"}})
        task_id = await create(client, {**IMAGE, "input": {"prompt": "cat 0"}})  # long evicted: read anew
        assert (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).status_code == 200
    assert len(app.state.mock.service._recipes) == RECIPES_KEPT
    huge = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "x" * RECIPE_MAX_BYTES}}
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        await create(client, huge)
    assert all(len(raw) <= RECIPE_MAX_BYTES for raw, _ in app.state.mock.service._recipes)


async def test_a_header_that_changes_the_plan_is_seen_between_repeats_of_the_same_request(
    client: httpx2.AsyncClient, clock: FakeClock
) -> None:
    # The same header block is decoded once (incoming.request_headers) and a plain create reuses its model's
    # plan (PredictionService._plain): one X-Mock-Outcome between two identical requests must still count.
    plain = await create(client)
    failed = await create(client, IMAGE, {**KEY, "X-Mock-Outcome": "failed"})
    again = await create(client)
    clock.advance(10)
    statuses = [
        (await client.get(f"/v1/predictions/{task_id}", headers=KEY)).json()["data"]["task_status"]
        for task_id in (plain, failed, again)
    ]
    assert statuses == ["success", "failed", "success"]
