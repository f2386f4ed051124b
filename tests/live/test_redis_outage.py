"""A Redis store that goes away (killed) or hangs (SIGSTOP) mid-run, on a real redis-server of each test's own: the
API and the control surface answer 503 in the error envelope naming the store, within the store's timeout, the
journal keeps those answers, and once Redis answers again (restarted, SIGCONT) the same mock serves again and
sends the webhooks of what Redis ran meanwhile."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import redis

from contracts.receiver import WebhookReceiver
from mock_server import Settings, create_app
from mock_server.store.redis_batch import Batcher
from mock_server.testing import LiveServer, serve_in_thread
from mock_server.webhooks.settings import DEV_SECRET, WebhookSettings
from tests._support import RedisProcess, eventually

BODY = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "a fox"}}
AUTH = {"Authorization": "Bearer sk-outage"}
WAIT = 0.5
"""The store's `socket_timeout` and `socket_connect_timeout` in these tests (the default is 5 s)."""
BOUND = 4.0
"""Wall seconds an answer may take at most here: WAIT, plus a loaded 2-core machine's slack (a real process)."""


@pytest.fixture
def own_redis(tmp_path: Path, redis_binary: str) -> Iterator[RedisProcess]:
    """A redis-server of this test alone: it gets killed, restarted, stopped and continued."""
    server = RedisProcess(redis_binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()  # SIGKILL: stopped or not


def _mock(url: str, **changes: Any) -> LiveServer:
    store = f"{url}?socket_timeout={WAIT}&socket_connect_timeout={WAIT}"
    return serve_in_thread(create_app(Settings(store=store, time_scale=1000.0, **changes)))


def _timed(call: Callable[[], httpx2.Response]) -> tuple[httpx2.Response, float]:
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def _probe_health(client: httpx2.Client, seconds: float) -> tuple[float, int]:
    """GET /_mock/health over and over for `seconds` (each must answer 200): the slowest answer, and how many."""
    slowest, probes = 0.0, 0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        answer, elapsed = _timed(lambda: client.get("/_mock/health"))
        assert answer.status_code == 200, answer.text
        slowest, probes = max(slowest, elapsed), probes + 1
    return slowest, probes


def _requests(client: httpx2.Client, task_id: str) -> dict[str, Callable[[], httpx2.Response]]:
    """One request per client path: create and get (the batched one), a task's and the tasks' control reads (sync)."""
    return {
        "create": lambda: client.post("/v1/predictions", json=BODY),
        "get": lambda: client.get(f"/v1/predictions/{task_id}"),
        "control task": lambda: client.get(f"/_mock/tasks/{task_id}"),
        "control list": lambda: client.get("/_mock/tasks"),
    }


def _assert_unavailable(answer: httpx2.Response, elapsed: float, store: str) -> None:
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["type"]) == ("503", "internal_server_error")
    assert error["message"].startswith(f"store: {store} is unreachable ("), error["message"]
    assert "the mock answers again when it is back" in error["message"]
    assert answer.headers["retry-after"] == "1"
    assert elapsed < BOUND, f"answered after {elapsed:.2f} s"


def test_a_killed_redis_answers_503_naming_the_store_and_a_restarted_one_serves_again(own_redis: RedisProcess) -> None:
    with _mock(own_redis.url) as live, httpx2.Client(base_url=live.base_url, headers=AUTH, timeout=20) as client:
        task_id = client.post("/v1/predictions", json=BODY).json()["data"]["task_id"]
        own_redis.kill()
        for name, call in _requests(client, task_id).items():
            answer, elapsed = _timed(call)
            _assert_unavailable(answer, elapsed, own_redis.url)
            message = answer.json()["error"]["message"].lower()
            assert "refused" in message or "closed the connection" in message, (name, message)
        own_redis.start()  # empty (no persistence), on the same port: the same mock uses it without a restart
        assert client.post("/v1/predictions", json=BODY).status_code == 200
        assert client.get(f"/v1/predictions/{task_id}").status_code == 404  # that Redis forgot it
        assert client.get(f"/_mock/tasks/{task_id}").status_code == 404


def test_the_journal_keeps_the_503s_with_their_error_type(own_redis: RedisProcess) -> None:
    with _mock(own_redis.url) as live, httpx2.Client(base_url=live.base_url, headers=AUTH, timeout=20) as client:
        own_redis.kill()
        assert client.post("/v1/predictions", json=BODY).status_code == 503
        assert client.get("/v1/predictions/0123456789abcdef0123456789abcdef").status_code == 503
        journal = client.get("/_mock/requests", params={"status": 503})  # answered from memory: no store needed
        assert journal.status_code == 200, journal.text
        entries = journal.json()["data"]
    assert sorted(e["method"] for e in entries) == ["GET", "POST"]
    assert {e["error_type"] for e in entries} == {"internal_server_error"}
    assert all(e["error_message"].startswith(f"store: {own_redis.url} is unreachable") for e in entries)


def test_a_hung_redis_answers_503_within_the_timeout_and_serves_again_after_sigcont(own_redis: RedisProcess) -> None:
    with _mock(own_redis.url) as live, httpx2.Client(base_url=live.base_url, headers=AUTH, timeout=20) as client:
        task_id = client.post("/v1/predictions", json=BODY).json()["data"]["task_id"]
        own_redis.stop()
        for call in _requests(client, task_id).values():
            _assert_unavailable(*_timed(call), own_redis.url)
        answer = client.get(f"/v1/predictions/{task_id}")
        assert f"no reply within {WAIT:g} s" in answer.json()["error"]["message"]  # the batcher's own words
        own_redis.resume()
        assert client.get(f"/v1/predictions/{task_id}").json()["data"]["task_id"] == task_id
        assert client.get(f"/_mock/tasks/{task_id}").status_code == 200
        assert client.post("/v1/predictions", json=BODY).status_code == 200


def test_a_hung_redis_never_holds_the_event_loop_for_what_needs_no_store(own_redis: RedisProcess) -> None:
    """The sweep (every 0.25 s: journal, heartbeat, due tasks, dead processes' deliveries), a list of the shared
    request journal, the inspector's Requests tab and a /metrics scrape wait for a hung Redis on worker threads:
    before, the sweep's first round after the hang held the event loop for the whole timeout, and every request
    with it (a scrape did too, for as long as its reads of tasks and deliveries took)."""
    timeout = 3.0  # long enough that one held loop cannot hide in a loaded machine's slack
    store = f"{own_redis.url}?socket_timeout={timeout:g}&socket_connect_timeout={timeout:g}"
    with (
        serve_in_thread(create_app(Settings(store=store, time_scale=1000.0, journal_size=100_000))) as live,
        httpx2.Client(base_url=live.base_url, headers=AUTH, timeout=20) as client,
        concurrent.futures.ThreadPoolExecutor(3) as pool,
    ):
        created = client.post("/v1/predictions", json=BODY).headers["x-shuyou-requestid"]
        own_redis.stop()
        try:
            listing = pool.submit(client.get, "/_mock/requests", params={"path": "/v1/"})  # waits for the others
            inspector = pool.submit(client.get, "/_mock/inspector/requests", params={"path": "/v1/"})  # the tab
            scrape = pool.submit(client.get, "/metrics")  # tasks by status and every delivery: from the store
            slowest, probes = _probe_health(client, 1.5)  # 6 sweeps
            assert slowest < timeout / 3, f"the loop was held {slowest:.2f} s (of {probes} probes)"
            journal = listing.result(timeout=3 * timeout)
            assert journal.status_code == 200, journal.text  # after the timeout: this process's own entries
            assert created in [e["request_id"] for e in journal.json()["data"]]
            tab = inspector.result(timeout=3 * timeout)
            assert tab.status_code == 200, tab.text
            assert created in [e["request_id"] for e in tab.json()["data"]]
            metrics = scrape.result(timeout=3 * timeout)
            assert metrics.status_code == 503, metrics.text  # in the envelope, naming the store
            assert metrics.json()["error"]["message"].startswith(f"store: {own_redis.url} is unreachable (")
        finally:
            own_redis.resume()
        assert "shuyou_mock_tasks{" in client.get("/metrics").text
        assert client.post("/v1/predictions", json=BODY).status_code == 200


def test_the_inspectors_tabs_and_the_webhook_journal_wait_for_a_hung_redis_off_the_event_loop(
    own_redis: RedisProcess,
) -> None:
    """The Tasks, Webhooks and Credits tabs and the control surface's task list, one task and webhook reads (a list;
    a delivery this process does not hold) read the shared store off the event loop: through a hang they answer 503
    after the timeout, and the mock's other answers never wait for them (before: held for each read)."""
    timeout = 1.5
    store = f"{own_redis.url}?socket_timeout={timeout:g}&socket_connect_timeout={timeout:g}"
    paths = [f"/_mock/inspector/{tab}" for tab in ("tasks", "webhooks", "credits")]
    paths += ["/_mock/tasks", "/_mock/webhooks", "/_mock/webhooks/msg_0123456789abcdef0123456789abcdef"]
    with (
        serve_in_thread(create_app(Settings(store=store, time_scale=1000.0))) as live,
        httpx2.Client(base_url=live.base_url, headers=AUTH, timeout=20) as client,
        concurrent.futures.ThreadPoolExecutor(len(paths) + 1) as pool,  # and one task's detail
    ):
        task_id = client.post("/v1/predictions", json=BODY).json()["data"]["task_id"]
        paths.insert(0, f"/_mock/tasks/{task_id}")
        assert [client.get(path).status_code for path in paths] == [200] * (len(paths) - 1) + [404]
        own_redis.stop()
        try:
            reads = [pool.submit(client.get, path) for path in paths]
            slowest, probes = _probe_health(client, 1.5)
            assert slowest < timeout / 3, f"the loop was held {slowest:.2f} s (of {probes} probes)"
            for path, read in zip(paths, reads, strict=True):
                answer = read.result(timeout=4 * len(paths) * timeout)
                assert answer.status_code == 503, (path, answer.text)
                assert answer.json()["error"]["message"].startswith(f"store: {own_redis.url} is unreachable (")
        finally:
            own_redis.resume()
        assert [client.get(path).status_code for path in paths] == [200] * (len(paths) - 1) + [404]


def test_a_redelivery_answered_503_by_a_hung_redis_that_ran_it_later_is_still_sent(own_redis: RedisProcess) -> None:
    """The redelivery's script waited in Redis's socket while Redis was stopped and ran on SIGCONT, after the mock
    had answered 503: the delivery it put back in the stream, taken for this process in that script, is in the
    process's pending entries unbeknown to it, until it looks there again after the lost reply."""
    with (
        WebhookReceiver([DEV_SECRET]) as receiver,
        _mock(own_redis.url) as live,
        httpx2.Client(base_url=live.base_url, headers=AUTH, timeout=20) as client,
        redis.Redis(port=own_redis.port) as inspect,
    ):
        body = {**BODY, "webhook": receiver.url}
        assert client.post("/v1/predictions", json=body, headers={"X-Mock-Duration": "0"}).status_code == 200
        delivery_id = receiver.wait_for(1)[0]["webhook_id"]
        eventually(lambda: inspect.zcard("shuyou:d:pending") == 0)  # its result is written
        assert client.post(f"/_mock/webhooks/{delivery_id}/redeliver").status_code == 202  # its script is loaded now
        receiver.wait_for(2)
        eventually(lambda: inspect.zcard("shuyou:d:pending") == 0)
        own_redis.stop()
        _assert_unavailable(*_timed(lambda: client.post(f"/_mock/webhooks/{delivery_id}/redeliver")), own_redis.url)
        own_redis.resume()
        got = receiver.wait_for(3, timeout=20)
    assert [d["webhook_id"] for d in got] == [delivery_id] * 3
    assert all(d["verified"] for d in got)


def test_a_create_answered_503_by_a_hung_redis_that_ran_it_later_still_sends_both_its_webhooks(
    own_redis: RedisProcess,
) -> None:
    """The batched path's counterpart: the create's script (its `processing` event's delivery taken for this
    process in it) ran on SIGCONT after the 503; the task then settles through the sweep as any other."""
    with (
        WebhookReceiver([DEV_SECRET]) as receiver,
        _mock(own_redis.url, webhooks=WebhookSettings(intermediate=True)) as live,
        httpx2.Client(base_url=live.base_url, headers=AUTH, timeout=20) as client,
    ):
        body, quick = {**BODY, "webhook": receiver.url}, {"X-Mock-Duration": "1"}
        assert client.post("/v1/predictions", json=body, headers=quick).status_code == 200  # connected, loaded
        receiver.wait_for(2)
        own_redis.stop()
        _assert_unavailable(*_timed(lambda: client.post("/v1/predictions", json=body, headers=quick)), own_redis.url)
        own_redis.resume()
        got = receiver.wait_for(4, timeout=20)
    lost = [d["body"]["data"] for d in got[2:]]
    assert sorted(d["task_status"] for d in lost) == ["processing", "success"]
    assert len({d["task_id"] for d in lost} | {d["body"]["data"]["task_id"] for d in got[:2]}) == 2


@pytest.mark.anyio
async def test_the_batcher_gives_up_on_a_redis_that_never_answers_and_connects_again_for_the_next_call() -> None:
    mute: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        mute.append(writer)  # reads nothing, answers nothing: a hung Redis as its socket looks

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    batcher = Batcher({"host": "127.0.0.1", "port": port, "socket_timeout": 0.2})
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError, match=r"no reply within 0\.2 s"):
        await batcher.call("PING")
    assert time.monotonic() - started < BOUND
    with pytest.raises(redis.ConnectionError, match=r"no reply within 0\.2 s"):
        await batcher.call("PING")
    assert len(mute) == 2  # the first connection was dropped (its late reply unread), the second is new
    batcher.close()
    for writer in mute:
        writer.close()
    server.close()
    await server.wait_closed()


def test_a_bad_timeout_in_the_store_url_is_a_startup_error_that_names_it(redis_url: str) -> None:
    from mock_server.errors import SettingsError
    from mock_server.store import open_store

    with pytest.raises(SettingsError, match=r"socket_timeout=0\.0 must be a number of seconds > 0"):
        open_store(f"{redis_url}?socket_timeout=0")
    with pytest.raises(SettingsError, match="Invalid value for 'socket_connect_timeout'"):
        open_store(f"{redis_url}?socket_connect_timeout=soon")


def test_health_answers_at_once_while_a_settle_and_a_clock_advance_wait_for_a_hung_redis(
    own_redis: RedisProcess,
) -> None:
    """The timer's settle of tasks due during a hang and a clock advance (whose offset goes to the store) are stuck
    in the hung Redis and answer 503 after the timeout: neither holds the event loop nor /_mock/health, which
    reads no task (a read of the tasks does wait for that settle: it must see every due task ended)."""
    timeout = 3.0
    store = f"{own_redis.url}?socket_timeout={timeout:g}&socket_connect_timeout={timeout:g}"
    with (
        serve_in_thread(create_app(Settings(store=store, durations={"image": 0.3}))) as live,
        httpx2.Client(base_url=live.base_url, headers=AUTH, timeout=20) as client,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        for _ in range(3):
            assert client.post("/v1/predictions", json=BODY).status_code == 200
        own_redis.stop()
        try:
            advance = pool.submit(client.post, "/_mock/clock/advance", json={"seconds": 60})
            slowest, probes = _probe_health(client, 1.5)
            assert slowest < timeout / 3, f"health waited {slowest:.2f} s (of {probes} probes)"
            stuck = advance.result(timeout=4 * timeout)
            assert stuck.status_code == 503, stuck.text
        finally:
            own_redis.resume()
        assert client.post("/_mock/clock/advance", json={"seconds": 60}).status_code == 200
        statuses = {t["task_status"] for t in client.get("/_mock/tasks").json()["data"]}
        assert statuses == {"success"}


def test_a_cancel_waits_for_a_hung_redis_off_the_event_loop(own_redis: RedisProcess) -> None:
    """A cancel's read and commit go through the batched client: through a hang it answers 503 after the timeout
    and the loop stays free (before: both were made on it, each held for the timeout)."""
    timeout = 1.5
    store = f"{own_redis.url}?socket_timeout={timeout:g}&socket_connect_timeout={timeout:g}"
    with (
        serve_in_thread(create_app(Settings(store=store))) as live,
        httpx2.Client(base_url=live.base_url, headers=AUTH, timeout=20) as client,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        task_id = client.post("/v1/predictions", json=BODY).json()["data"]["task_id"]
        own_redis.stop()
        try:
            cancel = pool.submit(client.post, f"/_mock/tasks/{task_id}/cancel")
            slowest, probes = _probe_health(client, 1.0)
            assert slowest < timeout / 3, f"the loop was held {slowest:.2f} s (of {probes} probes)"
            _assert_unavailable(cancel.result(timeout=4 * timeout), 0.0, own_redis.url)
        finally:
            own_redis.resume()
        cancelled = client.post(f"/_mock/tasks/{task_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["task_status"] == "cancelled"
