from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, strategies as st

from mock_server.webhooks.lanes import Lanes
from mock_server.webhooks.policy import receiver_of

SLOW, FAST = "http://127.0.0.1:9001", "http://127.0.0.1:9002"


def drain(lanes: Lanes[str]) -> list[str]:
    """Take and finish one item at a time, the way one sender would."""
    order: list[str] = []
    while (work := lanes.take()) is not None:
        key, item = work
        order.append(item)
        lanes.done(key)
    return order


def test_one_lane_is_first_in_first_out() -> None:
    lanes = Lanes[str](total=4, per_receiver=4)
    for n in range(3):
        lanes.push(SLOW, f"s{n}")
    assert drain(lanes) == ["s0", "s1", "s2"]


def test_receivers_take_turns_so_a_long_lane_does_not_starve_a_short_one() -> None:
    lanes = Lanes[str](total=4, per_receiver=4)
    for n in range(100):
        lanes.push(SLOW, f"s{n}")
    lanes.push(FAST, "f0")
    assert drain(lanes)[:3] == ["s0", "f0", "s1"]


def test_a_receiver_at_its_cap_leaves_the_other_slots_to_other_receivers() -> None:
    lanes = Lanes[str](total=4, per_receiver=2)
    for n in range(10):
        lanes.push(SLOW, f"s{n}")
    taken = [lanes.take(), lanes.take(), lanes.take()]
    assert taken == [(SLOW, "s0"), (SLOW, "s1"), None]  # two slots of four: the slow receiver's share
    lanes.push(FAST, "f0")
    assert lanes.take() == (FAST, "f0")
    lanes.done(SLOW)
    assert lanes.take() == (SLOW, "s2")


def test_the_total_cap_holds_across_receivers() -> None:
    lanes = Lanes[str](total=3, per_receiver=2)
    for key in (SLOW, FAST):
        for n in range(3):
            lanes.push(key, f"{key[-1]}{n}")
    assert [lanes.take() is not None for _ in range(4)] == [True, True, True, False]
    assert lanes.in_flight == 3
    lanes.done(FAST)
    assert lanes.take() is not None


def test_clear_drops_the_waiting_items_and_in_flight_ones_still_finish() -> None:
    lanes = Lanes[str](total=2, per_receiver=2)
    for n in range(5):
        lanes.push(SLOW, f"s{n}")
    work = lanes.take()
    assert work is not None
    lanes.clear()
    assert lanes.waiting == 0
    lanes.done(work[0])
    assert lanes.take() is None
    assert lanes.in_flight == 0


def test_caps_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="per_receiver=0"):
        Lanes[str](total=1, per_receiver=0)


@pytest.mark.parametrize(
    ("url", "receiver"),
    [
        pytest.param("http://127.0.0.1:8080/a?x=1", "http://127.0.0.1:8080", id="path and query ignored"),
        pytest.param("http://LOCALHOST/hook", "http://localhost:80", id="default http port"),
        pytest.param("https://example.com/hook", "https://example.com:443", id="default https port"),
        pytest.param("http://[::1]:9000/h", "http://::1:9000", id="ipv6"),
    ],
)
def test_a_receiver_is_scheme_host_and_port(url: str, receiver: str) -> None:
    assert receiver_of(url) == receiver


ops = st.lists(st.one_of(st.tuples(st.just("push"), st.sampled_from("abc")), st.just(("take", ""))), max_size=60)


@given(ops=ops, total=st.integers(1, 4), per_receiver=st.integers(1, 3))
def test_caps_always_hold_and_every_item_is_sent_once(
    ops: list[tuple[str, str]], total: int, per_receiver: int
) -> None:
    lanes = Lanes[int](total=total, per_receiver=per_receiver)
    active: Counter[str] = Counter()
    pushed: list[int] = []
    sent: list[int] = []
    for n, (op, key) in enumerate(ops):
        if op == "push":
            lanes.push(key, n)
            pushed.append(n)
        elif (work := lanes.take()) is not None:
            active[work[0]] += 1
            sent.append(work[1])
        elif active:  # nothing ready: finish one in flight
            done = next(iter(active))
            active[done] -= 1
            active += Counter()
            lanes.done(done)
        assert sum(active.values()) <= total
        assert all(count <= per_receiver for count in active.values())
    for key, count in list(active.items()):
        for _ in range(count):
            lanes.done(key)
    while (work := lanes.take()) is not None:
        sent.append(work[1])
        lanes.done(work[0])
    assert sorted(sent) == pushed
