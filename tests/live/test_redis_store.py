"""The store contract on a real redis-server (the session's own, on a free port), plus what only Redis adds."""

from __future__ import annotations

import time
from typing import Any

import pytest

from mock_server.lifecycle import Status, transition
from mock_server.store import Store, open_store
from tests.unit.test_store import (  # the same contract tests, run here against Redis
    make,
    test_admit_holds_the_planned_cost_and_refuses_what_would_overdraw,
    test_commit_turns_the_hold_into_usage_once,
    test_deliveries_round_trip_and_pending_filter,
    test_due_lists_processing_tasks_whose_time_has_come,
    test_failed_task_releases_its_hold_without_charge,
    test_finished_deliveries_are_a_journal_bounded_oldest_first,
    test_next_block_never_repeats_a_range,
    test_processing_and_filters,
    test_put_get_round_trip,
    test_reclaim_takes_over_pending_deliveries_of_silent_processes_only,
    test_reset_clears_everything,
    test_reset_keeps_meta_such_as_the_clock,
    test_usage_accumulates_per_key,
)

__all__ = [
    "test_admit_holds_the_planned_cost_and_refuses_what_would_overdraw",
    "test_commit_turns_the_hold_into_usage_once",
    "test_deliveries_round_trip_and_pending_filter",
    "test_due_lists_processing_tasks_whose_time_has_come",
    "test_failed_task_releases_its_hold_without_charge",
    "test_finished_deliveries_are_a_journal_bounded_oldest_first",
    "test_next_block_never_repeats_a_range",
    "test_processing_and_filters",
    "test_put_get_round_trip",
    "test_reclaim_takes_over_pending_deliveries_of_silent_processes_only",
    "test_reset_clears_everything",
    "test_reset_keeps_meta_such_as_the_clock",
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
