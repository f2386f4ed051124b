from __future__ import annotations

import pytest

from mock_server.errors import SettingsError
from mock_server.settings import Price, RateLimit, Settings


def test_defaults_follow_decisions() -> None:
    s = Settings()
    assert (s.duration_for("image"), s.duration_for("video"), s.duration_for("audio")) == (10.0, 60.0, 5.0)
    assert s.discount_percent == 0.75
    assert s.auth_error_status == 401
    assert s.rate_limit is None
    assert s.keys is None
    assert s.default_balance is None


def test_from_mapping_reads_nested_sections() -> None:
    s = Settings.from_mapping(
        {
            "time_scale": 0,
            "model_prices": {"gpt-image-2": {"amount": 0.5, "per": "image"}},
            "rate_limit": {"requests": 2, "per_seconds": 10},
            "rules": [{"match": {"model": "gpt-image-2"}, "outcome": "failed"}],
            "keys": ["a", "b"],
            "webhooks": {},
        }
    )
    assert s.time_scale == 0.0
    assert s.price_for("gpt-image-2", "image") == Price(0.5, "image")
    assert s.price_for("other", "video") == Price(0.1, "second")
    assert s.rate_limit == RateLimit(2, 10.0)
    assert s.rules[0].outcome == "failed"
    assert s.keys == ("a", "b")


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        pytest.param({"nope": 1}, r"config: unknown field\(s\) \['nope'\]", id="unknown-key"),
        pytest.param({"time_scale": "fast"}, "time_scale='fast' is not a number", id="not-a-number"),
        pytest.param({"time_scale": -1}, "must be a finite number >= 0", id="negative-scale"),
        pytest.param(
            {"time_scale": float("nan")}, "time_scale=nan is out of range \\(finite numbers only\\)", id="nan-scale"
        ),
        pytest.param(
            {"latency": float("inf")}, "latency=inf is out of range \\(finite numbers only\\)", id="inf-latency"
        ),
        pytest.param({"url_ttl": float("inf")}, "url_ttl=inf is out of range \\(finite numbers only\\)", id="inf-ttl"),
        pytest.param(
            {"durations": {"video": float("inf")}},
            "durations.video=inf is out of range \\(finite numbers only\\)",
            id="inf-duration",
        ),
        pytest.param(
            {"balances": {"k": float("nan")}},
            "balances.k=nan is out of range \\(finite numbers only\\)",
            id="nan-balance",
        ),
        pytest.param({"auth_error_status": 500}, "must be 401 or 403", id="auth-status"),
        pytest.param({"prices": {"image": {"amount": 1, "per": "pixel"}}}, r"prices.image.per='pixel'", id="unit"),
        pytest.param({"rules": [{"match": {"prompt": "("}}]}, r"rules\[0\].match.prompt", id="bad-regex"),
        pytest.param({"rules": [{"outcome": "maybe"}]}, r"rules\[0\].outcome='maybe'", id="bad-outcome"),
        pytest.param({"store": "postgres://x"}, "use 'memory', 'sqlite", id="store"),
        pytest.param({"workers": 2}, "memory store lives in one process", id="workers-memory"),
        pytest.param(
            {"workers": 2, "store": "sqlite:///m.db", "replay": "run.cassette"},
            "replay keeps its replayed tasks in the process",
            id="workers-replay",
        ),
        pytest.param({"rate_limit": {"requests": 0}}, "rate_limit.requests=0", id="rate"),
    ],
)
def test_bad_config_raises_settings_error_naming_the_field(mapping: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_mapping(mapping)


def test_from_env_reads_prefixed_variables_only() -> None:
    s = Settings.from_env({"MOCK_PORT": "9000", "MOCK_SEED": "7", "MOCK_KEYS": "a, b", "PORT": "1"})
    assert (s.port, s.seed, s.keys) == (9000, 7, ("a", "b"))


def test_from_env_rejects_bad_int() -> None:
    with pytest.raises(SettingsError, match="MOCK_PORT='x' is not an int"):
        Settings.from_env({"MOCK_PORT": "x"})


def test_webhook_secret_is_checked_and_may_list_several() -> None:
    from mock_server.webhooks.signing import DEV_SECRET

    assert Settings(webhook_secret=f"{DEV_SECRET}, {DEV_SECRET}").webhook_secrets == (DEV_SECRET, DEV_SECRET)
    with pytest.raises(SettingsError, match="webhook_secret='nope' is not a webhook secret"):
        Settings(webhook_secret="nope")
