from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from mock_server.webhooks.backoff import Backoff
from mock_server.webhooks.journal import Attempt, Delivery, DeliveryStatus
from mock_server.webhooks.retry import Delivered, Exhausted, Gone, Outcome, RetryAt, Step, next_step
from mock_server.webhooks.settings import WebhookSettings

SETTINGS = WebhookSettings(max_attempts=3, backoff_base=10.0, backoff_factor=2.0, jitter=0.0)
NOW = 1_000.0


def pending(attempts: int = 0, **changes: object) -> Delivery:
    d = Delivery("msg_1", "a" * 32, "success", "http://127.0.0.1:1/h", b"{}", 0.0, next_attempt_at=NOW)
    for n in range(1, attempts + 1):
        d = d.with_attempt(Attempt(n, NOW - 1, 500))
    return replace(d, **changes)  # type: ignore[arg-type]


def step(
    delivery: Delivery, status: int | None, *, retry_after: str | None = None, settings: WebhookSettings = SETTINGS
) -> Step:
    attempt = Attempt(len(delivery.attempts) + 1, NOW, status, None if status else "connect: refused")
    outcome = Outcome(attempt, retry_after)
    return next_step(
        delivery, outcome, settings=settings, backoff=Backoff.from_settings(settings), rng=random.Random(0), now=NOW
    )


@pytest.mark.parametrize("status", [200, 204, 299])
def test_a_2xx_is_delivered_with_no_next_attempt(status: int) -> None:
    result = step(pending(1), status)
    assert isinstance(result, Delivered)
    assert result.delivery.status is DeliveryStatus.DELIVERED
    assert result.delivery.next_attempt_at is None
    assert [a.status_code for a in result.delivery.attempts] == [500, status]
    assert result.duplicate is False


def test_duplicate_chaos_asks_for_one_duplicate_send_only_once() -> None:
    first = step(pending(chaos=frozenset({"duplicate"})), 200)
    assert isinstance(first, Delivered)
    assert first.duplicate is True
    already = pending(chaos=frozenset({"duplicate"})).with_attempt(Attempt(1, NOW, 200, duplicate=True))
    again = step(already, 200)
    assert isinstance(again, Delivered)
    assert again.duplicate is False


@pytest.mark.parametrize(("status", "wait"), [(500, 10.0), (None, 10.0), (429, 10.0), (301, 10.0)])
def test_a_first_failure_is_retried_after_backoff_base(status: int | None, wait: float) -> None:
    result = step(pending(), status)
    assert isinstance(result, RetryAt)
    assert result.when == NOW + wait
    assert result.delivery.next_attempt_at == result.when
    assert result.delivery.status is DeliveryStatus.PENDING


def test_backoff_grows_with_each_failed_attempt() -> None:
    result = step(pending(1), 503)
    assert isinstance(result, RetryAt)
    assert result.when == NOW + 20.0


def test_retry_after_seconds_replaces_the_backoff_and_is_capped() -> None:
    honoured = step(pending(), 503, retry_after="42")
    capped = step(pending(), 503, retry_after="99999", settings=replace(SETTINGS, retry_after_max=60.0))
    unreadable = step(pending(), 503, retry_after="soon")
    assert isinstance(honoured, RetryAt)
    assert isinstance(capped, RetryAt)
    assert isinstance(unreadable, RetryAt)
    assert (honoured.when, capped.when, unreadable.when) == (NOW + 42, NOW + 60, NOW + 10)


def test_retry_after_http_date_is_measured_against_the_stamp_clock() -> None:
    wall = 1_700_000_000.0
    date = format_datetime(datetime.fromtimestamp(wall + 30, UTC), usegmt=True)
    attempt = Attempt(1, NOW, 503)
    result = next_step(
        pending(),
        Outcome(attempt, date),
        settings=SETTINGS,
        backoff=Backoff.from_settings(SETTINGS),
        rng=random.Random(0),
        now=NOW,
        stamp_now=wall,
    )
    assert isinstance(result, RetryAt)
    assert result.when == NOW + 30


def test_the_last_allowed_failure_exhausts() -> None:
    result = step(pending(2), 500)
    assert isinstance(result, Exhausted)
    assert result.delivery.status is DeliveryStatus.EXHAUSTED
    assert result.delivery.next_attempt_at is None
    assert len(result.delivery.attempts) == 3


def test_a_redeliver_round_gets_a_fresh_budget() -> None:
    result = step(pending(3, round_start=3, status=DeliveryStatus.PENDING), 500)
    assert isinstance(result, RetryAt)


def test_410_gone_stops_at_once_even_with_attempts_left() -> None:
    result = step(pending(), 410)
    assert isinstance(result, Gone)
    assert result.delivery.status is DeliveryStatus.GONE
    assert result.delivery.next_attempt_at is None
    assert [a.status_code for a in result.delivery.attempts] == [410]


def test_410_is_an_ordinary_failure_when_stop_on_gone_is_off() -> None:
    result = step(pending(), 410, settings=replace(SETTINGS, stop_on_gone=False))
    assert isinstance(result, RetryAt)
