"""The store contract on a real redis-server (the session's own, on a free port), plus what only Redis adds:
the outbox stream's claim logic (who holds a pending delivery, XACK on finish, XAUTOCLAIM of a silent holder)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis

from mock_server.lifecycle import Status, transition
from mock_server.store import Store, open_store
from tests._support import task_reads
from tests.unit.test_store import (  # the same contract tests, run here against Redis
    make,
    test_a_shared_journal_numbers_every_process_s_rows_in_one_sequence_and_keeps_the_newest,
    test_admit_holds_the_planned_cost_and_refuses_what_would_overdraw,
    test_commit_turns_the_hold_into_usage_once,
    test_credit_keys_are_every_key_that_held_or_used_credits,
    test_deliveries_round_trip_and_pending_filter,
    test_delivery_counts_follow_every_write_eviction_and_delete,
    test_due_lists_processing_tasks_whose_time_has_come,
    test_failed_task_releases_its_hold_without_charge,
    test_find_deliveries_filters_by_task_and_status_in_insertion_order_and_keeps_the_newest,
    test_find_filters_by_function_and_key_suffix_in_the_store,
    test_finished_deliveries_are_a_journal_bounded_oldest_first,
    test_next_block_never_repeats_a_range,
    test_processing_and_filters,
    test_put_get_round_trip,
    test_reset_clears_everything,
    test_reset_keeps_meta_such_as_the_clock,
    test_status_counts_follow_every_way_a_task_changes_status,
    test_usage_accumulates_per_key,
)

__all__ = [
    "test_a_shared_journal_numbers_every_process_s_rows_in_one_sequence_and_keeps_the_newest",
    "test_admit_holds_the_planned_cost_and_refuses_what_would_overdraw",
    "test_commit_turns_the_hold_into_usage_once",
    "test_credit_keys_are_every_key_that_held_or_used_credits",
    "test_deliveries_round_trip_and_pending_filter",
    "test_delivery_counts_follow_every_write_eviction_and_delete",
    "test_due_lists_processing_tasks_whose_time_has_come",
    "test_failed_task_releases_its_hold_without_charge",
    "test_find_deliveries_filters_by_task_and_status_in_insertion_order_and_keeps_the_newest",
    "test_find_filters_by_function_and_key_suffix_in_the_store",
    "test_finished_deliveries_are_a_journal_bounded_oldest_first",
    "test_next_block_never_repeats_a_range",
    "test_processing_and_filters",
    "test_put_get_round_trip",
    "test_reset_clears_everything",
    "test_reset_keeps_meta_such_as_the_clock",
    "test_status_counts_follow_every_way_a_task_changes_status",
    "test_usage_accumulates_per_key",
]


@pytest.fixture
def store_url(redis_url: str) -> str:
    return redis_url


@pytest.fixture
def store(store_url: str) -> Store:
    return open_store(store_url, journal_limit=3)


def test_two_clients_settle_a_task_once_and_see_each_others_state(redis_url: str) -> None:
    one, two = open_store(redis_url), open_store(redis_url)
    p = make("a")
    assert one.admit(p, reserve=0.75, limit=10.0)
    assert two.get("a") == p
    done = transition(p, Status.SUCCESS, now=2.0)
    won = [one.commit(done, charge=0.75, outbox=[("d1", {"status": "pending"})]), two.commit(done, charge=0.75)]
    assert sorted(won) == [False, True]
    assert (two.usage("k"), two.reserved("k"), len(one.pending_deliveries())) == (0.75, 0.0, 1)


def test_an_unreachable_redis_is_a_clear_startup_error() -> None:
    from mock_server.errors import SettingsError

    with pytest.raises(SettingsError, match="cannot reach Redis"):
        open_store("redis://127.0.0.1:1/0")


def test_a_meta_change_on_one_process_is_announced_to_the_others_before_set_meta_returns(redis_url: str) -> None:
    """The clock offset is not read before every request: a tracking store re-reads only after an announcement,
    and the writer waits for every subscriber's acknowledgement, so no process answers with the old clock."""
    from mock_server.store.redis import RedisStore

    watcher, writer, plain = RedisStore(redis_url), RedisStore(redis_url), RedisStore(redis_url)
    subscribe = watcher._r.pubsub

    class SlowPubSub:  # the watcher takes 30 ms to read each announcement: set_meta must wait for it
        def __init__(self) -> None:
            self._inner = subscribe()

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        def get_message(self, **kwargs: Any) -> Any:
            message = self._inner.get_message(**kwargs)
            if message is not None and message.get("type") == "message":
                time.sleep(0.03)
            return message

    watcher._r.pubsub = SlowPubSub  # type: ignore[method-assign]
    try:
        watcher.track_meta()
        assert watcher.meta_changed()  # the first look always reads
        assert not watcher.meta_changed()  # nothing announced since: no read needed
        for i in range(5):
            writer.set_meta("clock_offset", repr(float(i)))
            assert watcher.meta_changed(), f"announcement {i} not seen when set_meta returned"
            assert watcher.get_meta("clock_offset") == repr(float(i))
            assert not watcher.meta_changed()
        assert plain.meta_changed()  # not tracking: read every time
        assert plain.meta_changed()
    finally:
        for s in (watcher, writer, plain):
            s.close()


def test_a_flush_request_is_done_once_every_listening_process_has_added_its_rows(redis_url: str) -> None:
    """What `GET /_mock/requests` waits for on Redis: each process's listener adds its rows, then acknowledges."""
    from mock_server.store.redis import RedisStore

    reader, other, silent = RedisStore(redis_url), RedisStore(redis_url), RedisStore(redis_url)
    gate = threading.Event()

    def other_flush() -> None:  # the other process's journal: held until the test lets it go
        gate.wait(10)
        other.add_requests([(1.0, "GET", "/theirs")], 10)

    try:
        reader.serve_flushes(lambda: None)
        other.serve_flushes(other_flush)
        silent.track_meta()  # listening, nothing to add: acknowledges at once
        done = reader.request_flush(time.time(), 3.0)
        assert not done()  # the other's rows are not in yet
        gate.set()
        deadline = time.monotonic() + 10
        while not done():
            assert time.monotonic() < deadline, "the flush request was never acknowledged by every process"
            threading.Event().wait(0.005)
        assert reader.requests() == [(1, 1.0, "GET", "/theirs")]
    finally:
        gate.set()
        for s in (reader, other, silent):
            s.close()


def test_token_buckets_are_shared_and_refill_on_the_given_clock(redis_url: str) -> None:
    from mock_server.ratelimit import LocalBuckets
    from mock_server.store.redis import RedisStore

    one, two, local = RedisStore(redis_url), RedisStore(redis_url), LocalBuckets()
    try:
        # capacity 2, one token per 10 s: the same answers as this process's own buckets, whichever store is asked
        steps = [(one, 0.0), (two, 0.0), (one, 1.0), (two, 10.0), (one, 10.0), (two, 25.0)]
        shared = [store.take_token("sk-a", 2.0, 0.1, now) for store, now in steps]
        alone = [local.take_token("sk-a", 2.0, 0.1, now) for _, now in steps]
        assert shared == pytest.approx(alone)
        assert [t >= 1.0 for t in shared] == [True, True, False, True, False, True]
        assert two.take_token("sk-b", 2.0, 0.1, 25.0) == 2.0  # per key
    finally:
        one.close()
        two.close()


# -- the outbox stream (mock_server.store.redis_outbox) --------------------------------------------------------
STREAM, GROUP = "shuyou:d:s", "senders"


Pair = Callable[[], tuple[Any, Any]]


@pytest.fixture
def redis_pair(redis_url: str) -> Iterator[Pair]:
    """`redis_pair()`: two stores on the test's Redis, as two processes would hold; closed after the test."""
    from mock_server.store.redis import RedisStore

    opened: list[Any] = []

    def pair() -> tuple[Any, Any]:
        opened.extend((RedisStore(redis_url, journal_limit=10), RedisStore(redis_url, journal_limit=10)))
        return opened[-2], opened[-1]

    yield pair
    for store in opened:
        store.close()


@contextlib.asynccontextmanager
async def readers(*stores: Any) -> AsyncIterator[list[Any]]:
    """Each store's delivery stream (its consumer in the group), closed on the way out."""
    opened = [store.delivery_stream() for store in stores]
    try:
        yield opened
    finally:
        for reader in opened:
            await reader.aclose()


def held_by(client: Any) -> dict[str, int]:
    """Stream entries per consumer (the group's PEL)."""
    return {str(c["name"]): int(c["pending"]) for c in client.xinfo_consumers(STREAM, GROUP) if c["pending"]}


def idle_for(client: Any, consumer: str, ms: int) -> None:
    """Make `consumer`'s entries look idle for `ms` (XCLAIM IDLE): Redis's idle clock, without waiting for it."""
    ids = [e["message_id"] for e in client.xpending_range(STREAM, GROUP, "-", "+", 1000, consumername=consumer)]
    client.xclaim(STREAM, GROUP, consumer, 0, ids, idle=ms, justid=True)


@pytest.mark.anyio
async def test_a_pending_delivery_is_held_by_the_one_process_that_reads_it(redis_pair: Pair) -> None:
    one, two = redis_pair()
    async with readers(one, two) as (reader_one, reader_two):
        one.commit(transition(make("a"), Status.SUCCESS, now=2.0), charge=0.0, outbox=[("d1", {"status": "pending"})])
        assert await reader_one.read(10, 1) == [{"status": "pending"}]
        assert await reader_two.read(10, 1) == []  # read once, by one consumer
        assert held_by(one._r) == {one.owner: 1}


@pytest.mark.anyio
async def test_a_retry_keeps_the_entry_and_a_finished_record_acknowledges_it_in_the_same_write(
    redis_pair: Pair,
) -> None:
    one, _ = redis_pair()
    async with readers(one) as (reader,):
        one.put_delivery("d1", {"status": "pending", "n": 0})
        await reader.read(10, 1)
        await reader.save([("d1", {"status": "pending", "n": 1})])  # a failed attempt, retried later
        assert (one._r.xlen(STREAM), held_by(one._r)) == (1, {one.owner: 1})
        await reader.save([("d1", {"status": "delivered", "n": 2}), ("d2", {"status": "exhausted"})])
        assert (one._r.xlen(STREAM), held_by(one._r)) == (0, {})
        assert (one.pending_deliveries(), [d["status"] for d in one.deliveries()]) == ([], ["delivered", "exhausted"])


@pytest.mark.anyio
async def test_the_entries_of_a_silent_holder_are_taken_over_once_with_xautoclaim(redis_pair: Pair) -> None:
    holder, taker = redis_pair()
    async with readers(holder) as (reader,):
        holder.put_delivery("d1", {"status": "pending", "n": 1})
        await reader.read(10, 1)
        assert taker.reclaim(0.0, 5.0) == []  # idle for less than 5 s: its holder may be alive
        idle_for(holder._r, holder.owner, 6000)
        assert taker.reclaim(0.0, 5.0) == [{"status": "pending", "n": 1}]  # its current record
        assert taker.reclaim(0.0, 5.0) == []  # once
        assert held_by(holder._r) == {taker.owner: 1}


@pytest.mark.anyio
async def test_a_live_holder_touches_its_waiting_entries_so_nobody_takes_them(redis_pair: Pair) -> None:
    holder, other = redis_pair()
    async with readers(holder) as (reader,):
        holder.reclaim(0.0, 5.0)  # its sweep: sets the bound its beats keep its entries under
        holder.put_delivery("d1", {"status": "pending", "n": 1})
        await reader.read(10, 1)
        idle_for(holder._r, holder.owner, 6000)  # e.g. a retry due in an hour
        holder.beat(0.0)
        assert other.reclaim(0.0, 5.0) == []
        assert held_by(holder._r) == {holder.owner: 1}


@pytest.mark.anyio
async def test_a_reset_elsewhere_does_not_stop_a_reader(redis_pair: Callable[[], tuple[Any, Any]]) -> None:
    one, two = redis_pair()
    async with readers(one) as (reader,):
        one.put_delivery("d1", {"status": "pending"})
        two.reset()  # every key, the stream and its group with them
        assert one._r.xlen(STREAM) == 0
        assert await reader.read(10, 1) == []
        two.put_delivery("d2", {"status": "pending", "n": 2})
        assert await reader.read(10, 1) == [{"status": "pending", "n": 2}]


@pytest.mark.anyio
async def test_a_running_consumer_takes_what_its_own_commit_adds_in_the_same_script(redis_pair: Pair) -> None:
    one, two = redis_pair()
    async with readers(one, two) as (reader_one, reader_two):
        assert await reader_one.read(10, 1) == []  # its intake runs: from now on its writes take their entries
        one.commit(transition(make("a"), Status.SUCCESS, now=2.0), charge=0.0, outbox=[("d1", {"status": "pending"})])
        assert (reader_one.took("d1"), reader_one.took("d1"), reader_one.taken()) == (True, False, [])
        assert held_by(one._r) == {one.owner: 1}
        assert await reader_two.read(10, 1) == []


@pytest.mark.anyio
async def test_a_write_that_takes_an_older_entry_hands_over_its_record(redis_pair: Pair) -> None:
    one, two = redis_pair()
    async with readers(two) as (reader,):
        assert await reader.read(10, 1) == []  # two's consumer runs from now on
        one.put_delivery("older", {"status": "pending", "n": 1})  # one's does not: left in the stream
        two.put_delivery("mine", {"status": "pending", "n": 2})  # takes one entry: the oldest unread
        assert (reader.taken(), reader.took("mine")) == ([{"status": "pending", "n": 1}], False)
        assert await reader.read(10, 1) == [{"status": "pending", "n": 2}]


def test_status_counts_of_tasks_written_before_the_counts_existed_come_from_a_scan(redis_url: str) -> None:
    store = open_store(redis_url)
    store.reset()
    for name in "abc":
        store.put(make(name))
    store.put(transition(make("d"), Status.FAILED, now=2.0))
    store.put(transition(make("e"), Status.SUCCESS, now=2.0))
    server = redis.Redis.from_url(redis_url, decode_responses=True)
    server.delete("shuyou:ended")  # a store written by an earlier version
    assert store.status_counts() == {"processing": 3, "success": 1, "failed": 1, "cancelled": 0}
    assert server.hgetall("shuyou:ended") == {"success": "1", "failed": "1"}  # written back: O(1) from now on
    store.put(transition(make("a"), Status.SUCCESS, now=3.0))
    assert store.status_counts() == {"processing": 2, "success": 2, "failed": 1, "cancelled": 0}
    server.close()
    store.close()


def test_a_tasks_delivery_index_follows_puts_evictions_and_deletes(redis_url: str) -> None:
    store = open_store(redis_url, journal_limit=2)
    store.reset()
    server = redis.Redis.from_url(redis_url, decode_responses=True)
    for n in range(4):
        store.put_delivery(f"d{n}", {"status": "pending", "task_id": f"t{n % 2}"})
    assert (server.smembers("shuyou:d:t:t0"), server.smembers("shuyou:d:t:t1")) == ({"d0", "d2"}, {"d1", "d3"})
    for n in range(3):  # journal_limit=2: d0's record and index entry go
        store.put_delivery(f"d{n}", {"status": "delivered", "task_id": f"t{n % 2}"})
    assert (server.smembers("shuyou:d:t:t0"), server.smembers("shuyou:d:t:t1")) == ({"d2"}, {"d1", "d3"})
    store.delete_delivery("d2")
    assert server.exists("shuyou:d:t:t0") == 0
    assert [d["status"] for d in store.find_deliveries(task_id="t1")] == ["delivered", "pending"]  # d1, d3
    server.close()
    store.close()


def test_counts_and_finds_of_records_written_before_the_tallies_existed_come_from_the_records(redis_url: str) -> None:
    store = open_store(redis_url)
    store.reset()
    store.put_delivery("a", {"status": "pending", "task_id": "t", "attempts": [{}, {}]})
    store.put_delivery("b", {"status": "exhausted", "task_id": "t", "attempts": [{}]})
    server = redis.Redis.from_url(redis_url, decode_responses=True)
    assert server.hgetall("shuyou:d:tally") == {"a": "pending 2 t", "b": "exhausted 1 t"}  # ~50 bytes per record
    server.hdel("shuyou:d:tally", "a")  # as a store written by an earlier version left it
    assert store.delivery_counts() == ({"pending": 1, "exhausted": 1}, 1)
    assert [d["status"] for d in store.find_deliveries(task_id="t")] == ["pending", "exhausted"]  # read to filter
    server.close()
    store.close()


def test_a_mock_keeps_the_ended_tasks_it_read_last_and_reads_an_older_one_again(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx2

    from mock_server import Settings, create_app, service
    from mock_server.testing import serve_in_thread

    monkeypatch.setattr(service, "ENDED_KEPT", 2)
    app = create_app(Settings(store=redis_url, time_scale=0.0))
    body = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "a fox"}}
    with (
        serve_in_thread(app) as live,
        httpx2.Client(base_url=live.base_url, headers={"Authorization": "Bearer sk-k"}) as c,
    ):
        a, b, c_ = (c.post("/v1/predictions", json=body).json()["data"]["task_id"] for _ in range(3))
        for task_id in (a, b, a, c_):  # a polled again after b: b is the one read longest ago when c comes
            assert c.get(f"/v1/predictions/{task_id}").json()["data"]["task_status"] == "success"
        before = task_reads(redis_url)
        for task_id in (a, c_, a):
            assert c.get(f"/v1/predictions/{task_id}").status_code == 200
        assert task_reads(redis_url) == before  # a and c: kept
        assert c.get(f"/v1/predictions/{b}").json()["data"]["task_status"] == "success"
        assert task_reads(redis_url) == before + 1  # b was let go: read again
    app.state.mock.store.close()


def test_status_counts_written_back_only_if_no_task_changed_during_the_scan(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(redis_url)
    store.reset()
    store.put(transition(make("a"), Status.FAILED, now=2.0))
    server = redis.Redis.from_url(redis_url, decode_responses=True)
    server.delete("shuyou:ended")
    scan = store.find

    def scan_while_another_process_writes(**options: Any) -> list[Any]:
        found = scan(**options)
        store.put(transition(make("b"), Status.SUCCESS, now=2.0))  # after the scan read, before the write-back
        return found

    monkeypatch.setattr(store, "find", scan_while_another_process_writes)
    store.status_counts()
    assert server.hgetall("shuyou:ended") == {"success": "1"}  # only b's own count: the stale scan was not written
    monkeypatch.setattr(store, "find", scan)
    assert store.status_counts() == {"processing": 0, "success": 1, "failed": 1, "cancelled": 0}
    assert server.hgetall("shuyou:ended") == {"success": "1", "failed": "1"}
    server.close()
    store.close()


def test_a_poll_read_before_a_reset_and_answered_after_it_is_not_kept(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import anyio.to_thread
    import httpx2

    from mock_server import Settings, create_app
    from mock_server.testing import serve_in_thread

    app = create_app(Settings(store=redis_url, time_scale=0.0))
    store = app.state.mock.store
    body = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "a fox"}}
    read, gate, answers = threading.Event(), threading.Event(), []
    unpatched = store.get_async

    async def held_read(task_id: str) -> Any:
        found = await unpatched(task_id)
        read.set()
        await anyio.to_thread.run_sync(gate.wait)  # the reset is answered meanwhile
        return found

    with (
        serve_in_thread(app) as live,
        httpx2.Client(base_url=live.base_url, headers={"Authorization": "Bearer sk-k"}, timeout=20) as c,
    ):
        task_id = c.post("/v1/predictions", json=body).json()["data"]["task_id"]
        monkeypatch.setattr(store, "get_async", held_read)
        poll = threading.Thread(target=lambda: answers.append(c.get(f"/v1/predictions/{task_id}")))
        poll.start()
        assert read.wait(10)
        with httpx2.Client(base_url=live.base_url) as control:
            assert control.post("/_mock/reset").status_code == 200
            # Any request now takes in the reset's own announcement (Peers), so the kept tasks are forgotten
            # here, before the held read returns: only the service's own guard can keep that read out.
            assert control.get("/_mock/health").status_code == 200
        gate.set()
        poll.join(10)
        monkeypatch.setattr(store, "get_async", unpatched)
        assert answers[0].status_code == 200  # read before the reset: answered as it was then
        gone = c.get(f"/v1/predictions/{task_id}")
        assert gone.status_code == 404, gone.text  # but not kept: the reset removed it
    store.close()


def test_a_status_filter_reads_only_tasks_in_that_status_and_scans_a_store_without_the_index(redis_url: str) -> None:
    """`find` by a terminal status pages through that status's own index (`s:<status>`): among 600 tasks of
    which 6 failed, a list of the failed ones reads 6 tasks, not 600. A store whose index is missing or short (a
    layout written before it existed) is scanned instead, and gives the same answer."""
    from mock_server.store import TaskFilter

    store = open_store(redis_url)
    store.reset()
    for i in range(600):
        p = make(f"t{i:03}")
        store.put(p)
        store.put(transition(p, Status.FAILED if i % 100 == 0 else Status.SUCCESS, now=3.0))
    read: list[int] = []
    mget = store._r.mget  # type: ignore[attr-defined]

    def counted(keys: list[str]) -> Any:
        read.append(len(keys))
        return mget(keys)

    store._r.mget = counted  # type: ignore[attr-defined]
    failed = [f"t{i:03}" for i in range(500, -1, -100)]
    assert [p.task_id for p in store.find(TaskFilter(status="failed"))] == failed
    assert sum(read) == 6
    assert [p.task_id for p in store.find(TaskFilter(status="failed"), offset=4)] == failed[4:]
    server = redis.Redis.from_url(redis_url)
    server.zrem("shuyou:s:failed", "t300")  # short by one: as if t300 had been written before the index
    read.clear()
    assert [p.task_id for p in store.find(TaskFilter(status="failed"))] == failed
    assert sum(read) == 600  # scanned
    server.delete("shuyou:s:failed", "shuyou:ended")  # neither the index nor the counts: an older layout
    assert [p.task_id for p in store.find(TaskFilter(status="failed"), limit=2)] == failed[:2]
    server.close()
    store.close()
