from __future__ import annotations

import random

import pytest

from mock_server.webhooks.backoff import Backoff, parse_retry_after
from mock_server.webhooks.settings import WebhookSettings


def test_waits_grow_exponentially_without_jitter() -> None:
    backoff = Backoff(base=1.0, factor=2.0, maximum=100.0, jitter=0.0)
    assert [backoff.delay(n, random.Random(0)) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_waits_are_capped_at_the_maximum() -> None:
    backoff = Backoff(base=1.0, factor=10.0, maximum=30.0, jitter=0.0)
    assert backoff.delay(5, random.Random(0)) == 30.0
    assert backoff.delay(5000, random.Random(0)) == 30.0


def test_jitter_stays_within_bounds_and_is_seeded() -> None:
    backoff = Backoff(base=10.0, factor=1.0, maximum=10.0, jitter=0.2)
    waits = [backoff.delay(1, rng) for rng in [random.Random(7)] * 200]
    assert all(8.0 <= w <= 12.0 for w in waits)
    assert len(set(waits)) > 100
    again = [backoff.delay(1, rng) for rng in [random.Random(7)] * 200]
    assert waits == again


def test_retry_after_replaces_the_computed_wait_and_is_capped() -> None:
    backoff = Backoff(base=1.0, jitter=0.5, retry_after_max=60.0)
    assert backoff.delay(1, random.Random(0), retry_after=7.0) == 7.0
    assert backoff.delay(1, random.Random(0), retry_after=10_000.0) == 60.0


def test_attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        Backoff().delay(0, random.Random(0))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("7", 7.0, id="delta-seconds"),
        pytest.param(" 0 ", 0.0, id="zero"),
        pytest.param("Thu, 01 Jan 2026 00:00:30 GMT", 30.0, id="http-date"),
        pytest.param("Thu, 01 Jan 2026 00:00:00 GMT", 0.0, id="past-date"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("-3", None, id="negative"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=1_767_225_600.0) == expected


def test_from_settings_copies_the_schedule() -> None:
    settings = WebhookSettings(backoff_base=2.0, backoff_factor=3.0, backoff_max=50.0, jitter=0.0)
    assert Backoff.from_settings(settings).delay(3, random.Random(0)) == 18.0
