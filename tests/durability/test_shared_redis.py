"""Several mock processes on one store act as one mock: processes on one Redis, `--workers 2` on Redis and SQLite."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest

from contracts.receiver import WebhookReceiver
from tests._support import task_reads
from tests.durability.conftest import MockProcess, eventually
from tests.live.test_metrics_workers import value

BODY = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "a fox"}}


def status(client: httpx2.Client, task_id: str) -> str:
    answer = client.get(f"/v1/predictions/{task_id}")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["data"]["task_status"])


def test_create_on_one_poll_on_another_advance_on_a_third(
    processes: Callable[..., MockProcess], receiver: WebhookReceiver, redis_url: str
) -> None:
    one, two, three = (processes(redis_url) for _ in range(3))
    with one.client() as a, two.client() as b, three.client() as c:
        ids = [a.post("/v1/predictions", json={**BODY, "webhook": receiver.url}).json()["data"]["task_id"]]
        ids += [b.post("/v1/predictions", json={**BODY, "webhook": receiver.url}).json()["data"]["task_id"]]
        assert [status(b, ids[0]), status(a, ids[1])] == ["processing", "processing"]
        before = b.get("/_mock/clock").json()["now"]
        c.post("/_mock/clock/advance", json={"seconds": 60})
        assert a.get("/_mock/clock").json()["now"] >= before + 60  # seen by the others before their next answer
        assert [status(a, ids[0]), status(b, ids[1]), status(c, ids[0])] == ["success"] * 3
        receiver.wait_for(2, timeout=20)
        eventually(
            lambda: len(a.get("/_mock/webhooks", params={"status": "delivered"}).json()["deliveries"]) == 2,
            what="both deliveries journaled",
        )
        for task_id in ids:  # found in the store by task and status, by the process that made neither
            (hook,) = c.get(f"/_mock/tasks/{task_id}").json()["webhooks"]
            assert (hook["task_id"], hook["status"]) == (task_id, "delivered")
            tab = c.get("/_mock/inspector/webhooks", params={"task_id": task_id, "status": "delivered"}).json()
            assert [d["delivery_id"] for d in tab["data"]] == [hook["delivery_id"]]
            assert c.get(f"/_mock/webhooks/{hook['delivery_id']}").json()["task_id"] == task_id
        listed = c.get("/_mock/inspector/webhooks").json()["data"]  # newest first
        newest = c.get("/_mock/inspector/webhooks", params={"limit": 1}).json()
        assert (newest["data"], newest["more"]) == (listed[:1], True)
        assert sorted(d["task_id"] for d in listed) == sorted(ids)
        credits = {x.get("/v1/credits").json()["data"]["total_usage"] for x in (a, b, c)}
    got = receiver.deliveries()
    assert sorted(d["body"]["data"]["task_id"] for d in got) == sorted(ids)  # each settled (and fired) once
    assert len({d["webhook_id"] for d in got}) == 2
    assert len(credits) == 1  # one balance, whichever process answers


@pytest.fixture(params=["redis", "sqlite"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a store `--workers 2` can share: the session's Redis (flushed), or a new SQLite file."""
    return str(request.getfixturevalue("redis_url")) if request.param == "redis" else f"sqlite:///{tmp_path / 'w.db'}"


def test_workers_2_are_one_mock(
    processes: Callable[..., MockProcess], receiver: WebhookReceiver, shared_store: str
) -> None:
    mock = processes(shared_store, "--workers", "2")
    with mock.client() as client:
        ids = [
            client.post("/v1/predictions", json={**BODY, "webhook": receiver.url}).json()["data"]["task_id"]
            for _ in range(20)
        ]
        client.post("/_mock/clock/advance", json={"seconds": 60})
        fresh = [httpx2.Client(base_url=mock.url, headers=client.headers) for _ in range(6)]  # new connections
        try:
            assert {status(c, t) for c in fresh for t in ids} == {"success"}
        finally:
            for c in fresh:
                c.close()
        receiver.wait_for(20, timeout=20)
    got = receiver.deliveries()
    assert sorted(d["body"]["data"]["task_id"] for d in got) == sorted(ids)
    assert len({d["webhook_id"] for d in got}) == 20


def test_kill_9_of_the_process_holding_pending_deliveries_the_other_delivers_them(
    processes: Callable[..., MockProcess], receiver: WebhookReceiver, redis_url: str
) -> None:
    receiver.set_behaviour(status=503)  # every attempt fails: the deliveries stay pending in their process
    holder, other = processes(redis_url), processes(redis_url)
    with holder.client() as a, other.client() as b:
        ids = [
            a.post("/v1/predictions", json={**BODY, "webhook": receiver.url}).json()["data"]["task_id"]
            for _ in range(5)
        ]
        a.post("/_mock/clock/advance", json={"seconds": 60})
        eventually(lambda: len({d["webhook_id"] for d in receiver.deliveries()}) == 5, what="5 first attempts")
        holder.kill()
        receiver.set_behaviour(status=200)
        b.post("/_mock/clock/advance", json={"seconds": 3600})  # past any backoff
        eventually(
            lambda: len(b.get("/_mock/webhooks", params={"status": "delivered"}).json()["deliveries"]) == 5,
            what="the surviving process delivers the dead one's webhooks",
        )
    by_task: dict[str, set[str]] = {}
    for d in receiver.deliveries():
        by_task.setdefault(d["body"]["data"]["task_id"], set()).add(d["webhook_id"])
    assert sorted(by_task) == sorted(ids)
    assert all(len(wids) == 1 for wids in by_task.values())  # the same webhook-id as before the kill
    assert [d["answered"] for d in receiver.deliveries()].count(200) >= 5


def stream_holders(redis_url: str) -> dict[str, int]:
    """The outbox stream's pending entries per consumer (process), read from Redis beside the mocks."""
    import redis

    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        return {c["name"]: c["pending"] for c in client.xinfo_consumers("shuyou:d:s", "senders") if c["pending"]}


def test_kill_9_of_the_stream_holder_with_retries_pending_the_other_takes_its_entries_and_delivers_once(
    processes: Callable[..., MockProcess], receiver: WebhookReceiver, redis_url: str
) -> None:
    receiver.set_behaviour(status=503)
    holder = processes(redis_url)
    with holder.client() as a:
        for _ in range(5):
            a.post("/v1/predictions", json={**BODY, "webhook": receiver.url})
        a.post("/_mock/clock/advance", json={"seconds": 60})
        eventually(lambda: len({d["webhook_id"] for d in receiver.deliveries()}) == 5, what="5 first attempts")
        before = {d["webhook_id"]: d["body"]["data"]["task_id"] for d in receiver.deliveries()}
        pending = a.get("/_mock/webhooks", params={"status": "pending"}).json()["deliveries"]
        assert [d["next_attempt_at"] is not None for d in pending] == [True] * 5  # retries scheduled, not sent
    assert list(stream_holders(redis_url).values()) == [5]  # all 5 entries in the holder's PEL
    other = processes(redis_url)  # started after the reads: nothing left for its XREADGROUP
    holder.kill()
    receiver.set_behaviour(status=200)
    with other.client() as b:
        b.post("/_mock/clock/advance", json={"seconds": 3600})  # past any backoff
        eventually(
            lambda: len(b.get("/_mock/webhooks", params={"status": "delivered"}).json()["deliveries"]) == 5,
            what="the surviving process takes the dead one's entries (XAUTOCLAIM) and delivers them",
        )
    answered = [(d["webhook_id"], d["body"]["data"]["task_id"]) for d in receiver.deliveries() if d["answered"] == 200]
    assert sorted(answered) == sorted(before.items())  # once each, with the webhook-id of the first attempt
    # every entry acknowledged with its finished record (written with its tick's others, just after the journal)
    eventually(lambda: stream_holders(redis_url) == {}, what="the stream's pending entries all acknowledged")


def test_redeliver_on_one_process_of_a_delivery_the_other_made(
    processes: Callable[..., MockProcess], receiver: WebhookReceiver, redis_url: str
) -> None:
    maker, other = processes(redis_url), processes(redis_url)
    with maker.client() as a, other.client() as b:
        a.post("/v1/predictions", json={**BODY, "webhook": receiver.url})
        a.post("/_mock/clock/advance", json={"seconds": 60})
        eventually(
            lambda: len(a.get("/_mock/webhooks", params={"status": "delivered"}).json()["deliveries"]) == 1,
            what="the first delivery",
        )
        delivery_id = a.get("/_mock/webhooks").json()["deliveries"][0]["delivery_id"]
        answer = b.post(f"/_mock/webhooks/{delivery_id}/redeliver")
        assert answer.status_code == 202, answer.text  # 404 before: only the maker knew it
        receiver.wait_for(2, timeout=20)
    webhook_ids = {d["webhook_id"] for d in receiver.deliveries()}
    assert len(receiver.deliveries()) == 2
    assert len(webhook_ids) == 1  # the redelivery carries the original webhook-id


def test_a_rate_limit_holds_across_processes_on_one_redis(
    processes: Callable[..., MockProcess], redis_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "limits.yaml"
    config.write_text("rate_limit: {requests: 4, per_seconds: 3600}\n")
    one, two = processes(redis_url, "--config", str(config)), processes(redis_url, "--config", str(config))
    with one.client() as a, two.client() as b:
        answers = [c.get("/v1/credits").status_code for c in (a, b, a, b)]
        assert answers == [200, 200, 200, 200]
        refused = [a.get("/v1/credits"), b.get("/v1/credits")]  # per process, each would have 2 left
        assert [r.status_code for r in refused] == [429, 429]
        assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)


def test_a_process_answers_polls_of_an_ended_task_without_redis_until_a_reset_elsewhere(
    processes: Callable[..., MockProcess], redis_url: str
) -> None:
    one, two = processes(redis_url), processes(redis_url)
    with one.client() as a, two.client() as b:
        task_id = a.post("/v1/predictions", json=BODY).json()["data"]["task_id"]
        assert status(b, task_id) == "processing"
        a.post("/_mock/clock/advance", json={"seconds": 60})
        assert status(b, task_id) == "success"  # read once more: it ended
        before = task_reads(redis_url)
        assert [status(b, task_id) for _ in range(5)] == ["success"] * 5
        assert task_reads(redis_url) == before  # answered from b's own memory: an ended task never changes
        other = b.post("/v1/predictions", json=BODY).json()["data"]["task_id"]
        assert status(b, other) == "processing"
        assert task_reads(redis_url) > before  # a task still processing is read from Redis
        a.post("/_mock/reset")
        for client in (b, a):
            gone = client.get(f"/v1/predictions/{task_id}")
            assert gone.status_code == 404, gone.text
            assert gone.json()["error"]["type"] == "not_found"


def test_workers_2_scrape_each_delivery_once(
    processes: Callable[..., MockProcess], receiver: WebhookReceiver, shared_store: str
) -> None:
    receiver.set_behaviour(status=503)  # every attempt fails: the deliveries stay pending
    mock = processes(shared_store, "--workers", "2")
    with mock.client() as client:
        for _ in range(6):
            assert client.post("/v1/predictions", json={**BODY, "webhook": receiver.url}).status_code == 200
        client.post("/_mock/clock/advance", json={"seconds": 60})
        eventually(lambda: len({d["webhook_id"] for d in receiver.deliveries()}) == 6, what="each delivery tried")
        fresh = [httpx2.Client(base_url=mock.url) for _ in range(4)]  # new connections: both workers answer some
        try:
            scrapes = [c.get("/metrics").text for c in fresh]
        finally:
            for c in fresh:
                c.close()
    for text in scrapes:  # every delivery of the shared store once, whichever worker holds it and which answers
        assert value(text, "shuyou_mock_webhook_deliveries", outcome="pending") == 6
        assert value(text, "shuyou_mock_webhook_deliveries_pending") == 6
        assert value(text, "shuyou_mock_tasks", status="success") == 6


def test_every_process_lists_the_requests_all_of_them_answered_at_once_and_a_reset_forgets_them(
    processes: Callable[..., MockProcess], shared_store: str
) -> None:
    one, two = processes(shared_store), processes(shared_store)
    with one.client() as a, two.client() as b:
        made = [
            a.post("/v1/predictions", json=BODY),
            b.post("/v1/predictions", json=BODY),
            a.get("/v1/credits"),
            b.get("/v1/predictions/0123456789abcdef0123456789abcdef"),  # a 404, journaled with its error
        ]
        for client in (a, b):  # at once: neither waits for the other's next sweep
            listed = client.get("/_mock/requests", params={"path": "/v1/"}).json()["data"]
            assert [e["request_id"] for e in listed] == [r.headers["x-shuyou-requestid"] for r in reversed(made)]
        assert (listed[0]["status"], listed[0]["error_type"]) == (404, "not_found")
        assert len({e["seq"] for e in listed}) == 4  # one numbering across the processes
        a.post("/_mock/reset")
        assert b.get("/_mock/requests", params={"path": "/v1/"}).json()["data"] == []  # b's own ones too
        after = a.get("/v1/credits").headers["x-shuyou-requestid"]
        assert [e["request_id"] for e in b.get("/_mock/requests", params={"path": "/v1/"}).json()["data"]] == [after]


def test_workers_2_list_every_worker_s_requests_and_keep_them_across_a_kill_9(
    processes: Callable[..., MockProcess], shared_store: str
) -> None:
    mock = processes(shared_store, "--workers", "2")
    made: dict[int, set[str]] = {}  # worker pid -> the creates it answered
    fresh: list[httpx2.Client] = []
    try:
        while len(made) < 2:  # new connections until both workers have answered some (the kernel picks)
            assert len(fresh) < 60, "60 connections, all accepted by one worker"
            fresh.append(c := mock.client())
            request_id = c.post("/v1/predictions", json=BODY).headers["x-shuyou-requestid"]
            made.setdefault(c.get("/_mock/requests").json()["worker"]["pid"], set()).add(request_id)
        listed = [
            {e["request_id"] for e in c.get("/_mock/requests", params={"path": "/v1/"}).json()["data"]} for c in fresh
        ]
    finally:
        for c in fresh:
            c.close()
    everyone = set().union(*made.values())
    assert all(seen == everyone for seen in listed)  # whichever worker answers the list
    mock.kill()  # SIGKILL to both workers; the entries were in the store (the list above added them)
    again = processes(shared_store, "--workers", "2")
    with again.client() as client:
        kept = {e["request_id"] for e in client.get("/_mock/requests", params={"path": "/v1/"}).json()["data"]}
    assert kept == everyone
