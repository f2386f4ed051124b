from __future__ import annotations

import random

import pytest

from mock_server.behaviour import header_error, inject, plan
from mock_server.errors import InvalidParams, SettingsError
from mock_server.rules import parse_rules
from mock_server.settings import Settings


def decide(settings: Settings | None = None, headers: dict[str, str] | None = None, prompt: str = "p", rules=None):  # type: ignore[no-untyped-def]
    settings = settings or Settings()
    return plan(
        settings,
        parse_rules(rules) if rules else settings.rules,
        random.Random(1),
        model="m",
        function="video",
        key="k",
        prompt=prompt,
        headers=headers or {},
    )


def test_defaults_are_success_after_the_scaled_function_duration() -> None:
    assert (decide().outcome, decide().duration) == ("success", 60.0)
    assert decide(Settings(time_scale=0.5)).duration == 30.0


def test_headers_win_over_rules() -> None:
    rules = [{"outcome": "failed", "duration": 3}]
    p = decide(headers={"x-mock-outcome": "success", "x-mock-duration": "7"}, rules=rules)
    assert (p.outcome, p.duration) == ("success", 7.0)


def test_first_matching_rule_sets_each_field() -> None:
    rules = [
        {"name": "a", "match": {"prompt": "^x"}, "outcome": "failed"},
        {"name": "b", "duration": 2},
        {"name": "c", "duration": 9, "latency": 0.5},
    ]
    p = decide(prompt="xyz", rules=rules)
    assert (p.outcome, p.duration, p.latency, p.rule) == ("failed", 2.0, 0.5, "a")
    assert decide(prompt="yz", rules=rules).outcome == "success"


def test_failure_probability_is_seeded() -> None:
    settings = Settings(failure_probability=0.5)
    draws = [
        plan(settings, (), random.Random(3), model="m", function="image", key="k", prompt="", headers={}).outcome
        for _ in range(2)
    ]
    assert draws[0] == draws[1]


@pytest.mark.parametrize("value", ["abc", "200", "700", ":x", "\u00b2", "\u0664\u0660\u0660", "4" * 5000])
def test_bad_error_header_is_400(value: str) -> None:
    with pytest.raises(InvalidParams, match="x-mock-error"):
        header_error({"x-mock-error": value})


def test_error_header_default_types() -> None:
    assert header_error({"x-mock-error": "503"}).type is None  # type: ignore[union-attr]  # the spec's, later
    assert header_error({"x-mock-error": "404:invalid_model"}).type == "invalid_model"  # type: ignore[union-attr]


def test_rule_webhook_chaos_is_validated_and_planned() -> None:
    p = decide(rules=[{"match": {"prompt": "p"}, "webhook_chaos": {"duplicate": 1.0}}])
    assert p.webhook_chaos == {"duplicate": 1.0}
    with pytest.raises(SettingsError, match=r"rules\[0\].webhook_chaos"):
        parse_rules([{"webhook_chaos": {"duplicate": "often"}}])


@pytest.mark.parametrize(
    ("settings", "headers", "seconds"),
    [
        pytest.param(Settings(), {"x-mock-latency": "0.05"}, 0.05, id="header"),
        pytest.param(Settings(latency=2.0), {}, 2.0, id="settings"),
        pytest.param(Settings(latency=2.0), {"x-mock-latency": "0"}, 0.0, id="header-over-settings"),
        pytest.param(Settings(), {}, 0.0, id="none"),
    ],
)
def test_a_requests_latency_is_its_header_then_the_settings(
    settings: Settings, headers: dict[str, str], seconds: float
) -> None:
    assert inject(settings, random.Random(1), headers).latency == seconds
