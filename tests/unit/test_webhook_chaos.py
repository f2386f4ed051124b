from __future__ import annotations

import random

import pytest

from mock_server.errors import SettingsError
from mock_server.webhooks.chaos import Pairing, chaos_for, plan
from mock_server.webhooks.settings import WebhookChaos

CONFIGURED = WebhookChaos(delay=5)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        pytest.param(None, CONFIGURED, id="none: the settings"),
        pytest.param({}, CONFIGURED, id="empty: the settings"),
        pytest.param({"duplicate": 1}, WebhookChaos(duplicate=1.0), id="a rule's mapping replaces them"),
        pytest.param(WebhookChaos(bad_signature=0.5), WebhookChaos(bad_signature=0.5), id="already parsed"),
    ],
)
def test_a_tasks_own_chaos_replaces_the_configured_one(override: object, expected: WebhookChaos) -> None:
    assert chaos_for(override, CONFIGURED) == expected  # type: ignore[arg-type]


def test_unreadable_task_chaos_names_the_key() -> None:
    with pytest.raises(SettingsError, match=r"webhook_chaos\.duplicate"):
        chaos_for({"duplicate": 7}, CONFIGURED)


def test_plan_is_reproducible_from_the_seed_and_follows_the_probabilities() -> None:
    chaos = WebhookChaos(duplicate=0.5, bad_signature=0.5)
    first = [plan(chaos, rng) for rng in [random.Random(1)] for _ in range(200)]
    again = [plan(chaos, rng) for rng in [random.Random(1)] for _ in range(200)]
    assert first == again
    assert {frozenset(), frozenset({"duplicate"}), frozenset({"bad_signature"})} < set(first)
    assert plan(WebhookChaos(duplicate=1.0, bad_signature=1.0), random.Random(0)) == {"duplicate", "bad_signature"}
    assert plan(WebhookChaos(), random.Random(0)) == frozenset()


def test_pairing_sends_the_newer_delivery_of_another_task_first() -> None:
    pairing = Pairing()
    assert pairing.offer("m1", "task-a") == ((), True)
    assert pairing.offer("m2", "task-b") == ((("m2", "m1"),), False)
    assert pairing.release() is None


def test_pairing_keeps_one_tasks_events_in_order() -> None:
    pairing = Pairing()
    pairing.offer("m1", "task-a")
    assert pairing.offer("m2", "task-a") == ((("m1",),), True)  # m1 goes, m2 waits for a partner
    assert pairing.release() == "m2"  # its window closed: alone
