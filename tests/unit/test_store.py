from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mock_server.lifecycle import OutputFile, Prediction, Status, Usage, transition
from mock_server.store import SharedJournal, Store, TaskFilter, open_store


@pytest.fixture(params=["memory", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory" if request.param == "memory" else f"sqlite:///{tmp_path / 's.db'}"


@pytest.fixture
def store(store_url: str) -> Store:
    return open_store(store_url, journal_limit=3)


def make(task_id: str, key: str = "k", model: str = "m") -> Prediction:
    return Prediction(
        task_id,
        key,
        model,
        "image",
        created_at=1.0,
        due_at=2.0,
        outcome=Status.SUCCESS,
        input={"prompt": "p"},
        outputs=(OutputFile("image", "png", 4, 3, 0.0, "png"),),
        usage=Usage(1.0, 0.25, 0.75, 0.75),
        history=((1.0, "processing"),),
    )


def test_put_get_round_trip(store: Store) -> None:
    p = make("a")
    store.put(p)
    assert store.get("a") == p
    assert store.get("missing") is None


def test_processing_and_filters(store: Store) -> None:
    store.put(make("a", key="k1"))
    store.put(make("b", key="k2", model="x"))
    store.put(transition(make("c"), Status.FAILED, now=3.0))
    assert {p.task_id for p in store.processing()} == {"a", "b"}
    assert [p.task_id for p in store.find(TaskFilter(key="k2"))] == ["b"]
    assert [p.task_id for p in store.find(TaskFilter(status="failed"))] == ["c"]
    assert [p.task_id for p in store.find(TaskFilter(model="x"))] == ["b"]


def test_find_by_a_terminal_status_pages_newest_first(store: Store) -> None:
    """What the inspector's and the control surface's status filter ask for, page after page."""
    for i in range(12):
        p = make(f"t{i:02}", key="k-odd" if i % 2 else "k-even")
        store.put(p)
        if i % 3 == 0:
            store.put(transition(p, Status.FAILED, now=3.0))
        elif i % 3 == 1:
            store.put(transition(p, Status.SUCCESS, now=3.0))
    failed = ["t09", "t06", "t03", "t00"]
    assert [p.task_id for p in store.find(TaskFilter(status="failed"))] == failed
    assert [p.task_id for p in store.find(TaskFilter(status="failed"), limit=2, offset=1)] == failed[1:3]
    assert [p.task_id for p in store.find(TaskFilter(status="failed", key="k-odd"))] == ["t09", "t03"]
    assert [p.task_id for p in store.find(TaskFilter(status="failed", key="k-odd"), offset=1)] == ["t03"]
    assert [p.task_id for p in store.find(TaskFilter(status="success"), limit=1)] == ["t10"]
    assert store.find(TaskFilter(status="cancelled")) == []
    assert [p.task_id for p in store.find(TaskFilter(status="processing"), limit=2)] == ["t11", "t08"]


def test_find_filters_by_function_and_key_suffix_in_the_store(store: Store) -> None:
    """What the inspector's Tasks filters ask for (the function, a key's last characters), newest first."""
    for name, key, function in (("a", "sk-one", "image"), ("b", "sk-two", "audio"), ("c", "sk-done", "audio")):
        store.put(dataclasses.replace(make(name, key=key), function=function))
    assert [p.task_id for p in store.find(TaskFilter(function="audio"))] == ["c", "b"]
    assert [p.task_id for p in store.find(TaskFilter(key_suffix="one"))] == ["c", "a"]
    assert [p.task_id for p in store.find(TaskFilter(key_suffix="one", function="image"))] == ["a"]
    assert [p.task_id for p in store.find(TaskFilter(key_suffix="-two", status="processing"), limit=1)] == ["b"]
    assert store.find(TaskFilter(key_suffix="sk-one-longer")) == store.find(TaskFilter(function="video")) == []
    assert [p.task_id for p in store.find(TaskFilter(function="image"), within=2)] == []  # a is not among the newest 2
    assert [p.task_id for p in store.find(TaskFilter(function="audio"), within=2, limit=1)] == ["c"]
    assert [p.task_id for p in store.find(within=600)] == ["c", "b", "a"]
    assert [p.task_id for p in store.find(offset=1, limit=1)] == ["b"]  # a page further down: skipped in the store
    assert [p.task_id for p in store.find(TaskFilter(function="audio"), offset=1)] == ["b"]
    assert store.find(offset=3) == store.find(TaskFilter(function="image"), offset=1) == []


def test_status_counts_follow_every_way_a_task_changes_status(store: Store) -> None:
    """The /metrics gauge's source: new, settled, failed, cancelled and re-written tasks, each counted once."""
    zero = {"processing": 0, "success": 0, "failed": 0, "cancelled": 0}
    assert store.status_counts() == zero
    for name in "abcd":
        assert store.admit(make(name), reserve=0.0, limit=None)
    store.put(make("e"))
    assert store.commit(transition(make("a"), Status.SUCCESS, now=2.0), charge=0.75)
    assert not store.commit(transition(make("a"), Status.SUCCESS, now=2.0), charge=0.75)  # settled once only
    store.put(transition(make("b"), Status.FAILED, now=2.0))
    store.put(transition(make("c"), Status.CANCELLED, now=2.0))
    store.put(store.get("c"))  # a terminal task written again (a journal field, say): still one cancelled
    store.put(transition(make("f"), Status.SUCCESS, now=2.0))  # written terminal from the start
    assert store.status_counts() == {"processing": 2, "success": 2, "failed": 1, "cancelled": 1}
    store.reset()
    assert store.status_counts() == zero


def test_credit_keys_are_every_key_that_held_or_used_credits(store: Store) -> None:
    assert store.credit_keys() == []
    assert store.admit(make("a", key="k2"), reserve=0.5, limit=None)
    assert store.admit(make("b", key="k1"), reserve=0.5, limit=None)
    assert store.commit(transition(make("b", key="k1"), Status.FAILED, now=2.0), charge=0.0)  # released: still a key
    store.add_usage("k3", 1.0)
    assert store.credit_keys() == ["k1", "k2", "k3"]
    store.reset()
    assert store.credit_keys() == []


def test_usage_accumulates_per_key(store: Store) -> None:
    store.add_usage("k", 0.5)
    assert store.add_usage("k", 0.25) == 0.75
    assert store.usage("other") == 0.0


def test_deliveries_round_trip_and_pending_filter(store: Store) -> None:
    store.put_delivery("d1", {"status": "pending", "n": 1})
    store.put_delivery("d2", {"status": "delivered"})
    store.put_delivery("d1", {"status": "pending", "n": 2})
    assert store.pending_deliveries() == [{"status": "pending", "n": 2}]
    store.delete_delivery("d1")
    assert store.pending_deliveries() == []


def test_delivery_counts_follow_every_write_eviction_and_delete(store: Store) -> None:
    """The /metrics source on a shared store: by status and retries, as the records themselves would count."""

    def tried(status: str, n: int) -> dict[str, object]:
        return {"status": status, "attempts": [{"number": i + 1} for i in range(n)]}

    assert store.delivery_counts() == ({}, 0)
    store.put_delivery("p", {"status": "pending"})  # written by a transition: no attempts yet
    store.put_delivery("q", tried("pending", 2))  # waiting for its third attempt
    for n, outcome in enumerate(("delivered", "exhausted", "gone", "delivered"), 1):  # journal_limit=3 finished
        store.put_delivery(f"d{n}", tried("pending", 1))
        store.put_delivery(f"d{n}", tried(outcome, n))
    assert store.delivery_counts() == ({"pending": 2, "exhausted": 1, "gone": 1, "delivered": 1}, 1 + 1 + 2 + 3)
    assert len(store.deliveries()) == 5  # d1 evicted, with its count
    store.put_delivery("q", tried("delivered", 3))  # finished: evicts d2
    store.delete_delivery("p")
    assert store.delivery_counts() == ({"gone": 1, "delivered": 2}, 2 + 3 + 2)
    store.reset()
    assert store.delivery_counts() == ({}, 0)


def test_find_deliveries_filters_by_task_and_status_in_insertion_order_and_keeps_the_newest(store_url: str) -> None:
    store = open_store(store_url, journal_limit=100)
    for n in range(6):
        status = ("pending", "delivered", "gone")[n % 3]
        store.put_delivery(f"d{n}", {"status": "pending", "task_id": f"t{n % 2}", "n": n})
        store.put_delivery(f"d{n}", {"status": status, "task_id": f"t{n % 2}", "n": n})

    def ns(**filters: object) -> list[int]:
        return [d["n"] for d in store.find_deliveries(**filters)]  # type: ignore[arg-type]

    assert ns() == [0, 1, 2, 3, 4, 5]
    assert ns(newest=2) == [4, 5]
    assert ns(task_id="t1") == [1, 3, 5]
    assert ns(task_id="t1", newest=2) == [3, 5]
    assert ns(status="pending") == [0, 3]
    assert ns(status="pending", newest=1) == [3]
    assert ns(status="gone", task_id="t1") == [5]
    assert ns(status="delivered", newest=1) == [4]
    assert ns(task_id="none") == ns(newest=0) == []
    assert ns(newest=4, skip=2) == [2, 3]  # the second page of two, newest first: 3, 2
    assert ns(status="pending", newest=2, skip=1) == [0]
    assert ns(task_id="t1", newest=3, skip=1) == [1, 3]
    assert ns(status="delivered", newest=5, skip=1) == [1]
    assert ns(skip=5) == [0]
    assert ns(newest=2, skip=2) == []
    store.put_delivery("d1", {"status": "pending", "task_id": "t1", "n": 1})  # redelivered: pending again
    assert ns(status="pending") == [0, 1, 3]
    assert store.delivery("d1") == {"status": "pending", "task_id": "t1", "n": 1}
    assert store.delivery("missing") is None


def test_a_sqlite_file_of_an_earlier_version_gets_the_count_columns_and_its_rows_are_counted(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # the delivery table as the version before the count columns wrote it
        db.execute(
            "CREATE TABLE delivery (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, fin INTEGER, "
            "owner TEXT, body TEXT NOT NULL)"
        )
        db.execute('INSERT INTO delivery (id, body) VALUES (\'old\', \'{"status":"pending","attempts":[{},{}]}\')')
    db.close()
    store = open_store(f"sqlite:///{path}")
    store.put_delivery("new", {"status": "gone", "attempts": [{}]})
    assert store.delivery_counts() == ({"pending": 1, "gone": 1}, 1)
    assert [d["status"] for d in store.deliveries()] == ["pending", "gone"]
    store.close()
    assert open_store(f"sqlite:///{path}").delivery_counts() == ({"pending": 1, "gone": 1}, 1)  # opened again


def test_reset_clears_everything(store: Store) -> None:
    store.put(make("a"))
    store.add_usage("k", 1.0)
    store.put_delivery("d", {"status": "pending"})
    store.reset()
    assert (store.get("a"), store.usage("k"), store.pending_deliveries()) == (None, 0.0, [])


def test_sqlite_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    first = open_store(f"sqlite:///{path}")
    first.put(make("a"))
    first.add_usage("k", 2.0)
    first.close()
    second = open_store(f"sqlite:///{path}")
    assert second.get("a") == make("a")
    assert second.usage("k") == 2.0


def test_admit_holds_the_planned_cost_and_refuses_what_would_overdraw(store: Store) -> None:
    assert store.admit(make("a"), reserve=0.75, limit=1.0)
    assert store.reserved("k") == pytest.approx(0.75)
    assert not store.admit(make("b"), reserve=0.75, limit=1.0)  # 0.75 + 0.75 > 1
    assert store.get("b") is None
    assert store.admit(make("c"), reserve=0.25, limit=1.0)
    assert not store.admit(make("d"), reserve=0.0, limit=1.0)  # nothing left, even for a free task


def test_commit_turns_the_hold_into_usage_once(store: Store) -> None:
    p = make("a")
    store.admit(p, reserve=0.75, limit=None, outbox=[("d0", {"status": "pending", "event": "processing"})])
    done = transition(p, Status.SUCCESS, now=2.0)
    assert store.commit(done, charge=0.75, outbox=[("d1", {"status": "pending"})])
    assert (store.usage("k"), store.reserved("k")) == (pytest.approx(0.75), 0.0)
    assert not store.commit(done, charge=0.75, outbox=[("d2", {"status": "pending"})])  # already terminal
    assert store.usage("k") == pytest.approx(0.75)
    assert [d["status"] for d in store.pending_deliveries()] == ["pending", "pending"]


def test_failed_task_releases_its_hold_without_charge(store: Store) -> None:
    p = make("a")
    store.admit(p, reserve=0.5, limit=1.0)
    assert store.commit(transition(p, Status.FAILED, now=2.0), charge=0.0)
    assert (store.usage("k"), store.reserved("k")) == (0.0, 0.0)


def test_finished_deliveries_are_a_journal_bounded_oldest_first(store: Store) -> None:
    store.put_delivery("p", {"status": "pending", "n": 0})
    for n in range(1, 6):
        store.put_delivery(f"d{n}", {"status": "pending", "n": n})
        store.put_delivery(f"d{n}", {"status": "delivered", "n": n})
    assert [d["n"] for d in store.deliveries()] == [0, 3, 4, 5]  # journal_limit=3 finished, the pending one kept


def test_next_block_never_repeats_a_range(store: Store) -> None:
    assert [store.next_block("ids", 10) for _ in range(3)] == [0, 10, 20]
    assert store.next_block("other", 5) == 0


def test_reset_keeps_meta_such_as_the_clock(store: Store) -> None:
    store.set_meta("clock_offset", "60.0")
    store.next_block("ids", 10)
    store.reset()
    assert (store.get_meta("clock_offset"), store.next_block("ids", 10)) == ("60.0", 0)


def test_sqlite_keeps_order_journal_blocks_and_holds_across_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}"
    first = open_store(url)
    first.put(make("a"))
    first.put_delivery("n1", {"status": "pending", "n": 1})
    first.put_delivery("n2", {"status": "pending", "n": 2})
    first.put_delivery("x", {"status": "exhausted", "n": 0})
    first.admit(make("b"), reserve=0.5, limit=None)
    start = first.next_block("ids", 1024)
    first.set_meta("clock_offset", "3599.0")
    first.close()
    second = open_store(url)
    second.put_delivery("n3", {"status": "pending", "n": 3})
    # Regression: the insertion counter used to restart from the tasks table only ([3, 1, 2]).
    assert [d["n"] for d in second.pending_deliveries()] == [1, 2, 3]
    assert [d["n"] for d in second.deliveries()] == [1, 2, 0, 3]
    assert second.next_block("ids", 1024) == start + 1024
    assert (second.reserved("k"), second.get_meta("clock_offset")) == (0.5, "3599.0")


def test_due_lists_processing_tasks_whose_time_has_come(store: Store) -> None:
    store.put(make("a"))  # due at 2.0
    store.admit(make("b"), reserve=0.0, limit=None)
    store.put(transition(make("c"), Status.SUCCESS, now=2.0))
    assert store.due(1.0) == []
    assert sorted(p.task_id for p in store.due(2.0)) == ["a", "b"]


def test_reclaim_takes_over_pending_deliveries_of_silent_processes_only(store: Store, store_url: str) -> None:
    if store_url == "memory":
        assert store.reclaim(100.0, 1.5) == []  # one process: nothing to take over
        return
    other = open_store(store_url)  # another process on the same store
    other.beat(100.0)
    other.put_delivery("theirs", {"status": "pending", "n": 1})
    store.beat(100.0)
    store.put_delivery("mine", {"status": "pending", "n": 2})
    assert store.reclaim(101.0, 1.5) == []  # the other process beat 1 s ago: alive
    assert store.reclaim(102.0, 1.5) == [{"status": "pending", "n": 1}]  # silent for 2 s: taken over, once
    assert store.reclaim(103.0, 1.5) == []
    assert other.reclaim(103.0, 5.0) == []  # and the other, were it alive, would not take it back while we beat


def test_a_shared_journal_numbers_every_process_s_rows_in_one_sequence_and_keeps_the_newest(
    store: Store, store_url: str
) -> None:
    if store_url == "memory":
        assert not isinstance(store, SharedJournal)  # one process: its own journal is the whole journal
        return
    other = open_store(store_url)  # another process on the same store
    assert isinstance(store, SharedJournal)
    assert isinstance(other, SharedJournal)
    store.add_requests([(1.0, "GET", "/a", None), (2.0, "GET", "/b", "k")], 3)
    other.add_requests([(1.5, "POST", "/c", None)], 3)
    other.add_requests([], 3)
    assert store.requests() == [(1, 1.0, "GET", "/a", None), (2, 2.0, "GET", "/b", "k"), (3, 1.5, "POST", "/c", None)]
    store.add_requests([(3.0, "GET", "/d\udcff", None)], 3)  # a path orjson cannot encode (a lone surrogate)
    assert [r[0] for r in other.requests()] == [2, 3, 4]  # the newest 3: the oldest dropped first
    assert other.requests()[-1][3] == "/d\udcff"
    store.reset()
    assert other.requests() == []
    other.add_requests([(4.0, "GET", "/e", None)], 3)
    assert [r[3] for r in store.requests()] == ["/e"]


def test_sqlite_flush_request_is_answered_by_every_live_process_s_next_heartbeat(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    reader, live, dead = open_store(url), open_store(url), open_store(url)
    assert isinstance(reader, SharedJournal)
    dead.beat(90.0)
    live.beat(99.9)
    reader.beat(99.9)
    done = reader.request_flush(100.0, 3.0)
    assert not done()  # the live process has not swept since: its newest rows may not be in yet
    live.beat(100.0)  # its sweep: rows first, then this heartbeat
    assert done()  # the one silent for 10 s is not waited for, nor the reader itself
    assert reader.request_flush(200.0, 3.0)()  # nobody else alive: nothing to wait for


def test_the_codec_writes_what_asdict_would_and_reads_it_back() -> None:
    from dataclasses import asdict, replace

    from mock_server.lifecycle import OutputFile, TaskError, Usage
    from mock_server.store.codec import dumps, prediction_from_json, prediction_to_json

    p = replace(
        make("full"),
        outputs=(OutputFile(kind="image", fmt="png", width=2, height=3),),
        usage=Usage(0.05, 0.01, 20.0, 0.04),
        error=TaskError("content_policy", "refused"),
        webhook_chaos={"drop": [1]},
    )
    expected = {**asdict(p), "status": str(p.status), "outcome": str(p.outcome)}
    expected["history"] = [list(h) for h in p.history]
    assert prediction_to_json(p) == dumps(expected)
    assert prediction_from_json(prediction_to_json(p)) == p
