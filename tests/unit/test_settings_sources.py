"""The file, `MOCK_*` variables and `serve` flags reach every section through one set of rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_server.cli import build_parser
from mock_server.config import flag_mapping, load_settings
from mock_server.errors import SettingsError
from mock_server.settings import Settings
from mock_server.webhooks.signing import DEV_SECRET


def flags(*argv: str) -> dict[str, object]:
    return flag_mapping(vars(build_parser().parse_args(["serve", *argv])))


def test_nested_keys_have_environment_variables() -> None:
    s = Settings.from_env(
        {
            "MOCK_WEBHOOKS__MAX_ATTEMPTS": "3",
            "MOCK_WEBHOOKS__CHAOS__OUT_OF_ORDER": "yes",
            "MOCK_MEDIA_CACHE_ITEMS": "8",
            "MOCK_RATE_LIMIT__REQUESTS": "2",
            "MOCK_DURATIONS": "{image: 1}",
            "MOCK_RULES": '[{"match": {"model": "m"}, "outcome": "failed"}]',
            "MOCK_REPLAY_STRICT": "true",
        }
    )
    assert (s.webhooks.max_attempts, s.webhooks.chaos.out_of_order, s.media_cache_items) == (3, True, 8)
    assert (s.rate_limit and s.rate_limit.requests, s.duration_for("image"), s.duration_for("video")) == (2, 1.0, 60.0)
    assert (s.rules[0].match.models, s.rules[0].outcome, s.replay_strict) == (("m",), "failed", True)


def test_existing_flag_spellings_and_derived_ones_work() -> None:
    argv = ["--time-scale", "0", "--seed", "4", "--store", "sqlite:///x.db", "--workers", "2", "--replay-strict"]
    s = load_settings({}, None, flags(*argv, "--webhook-secret", DEV_SECRET, "--webhooks-chaos-duplicate", "0.5"))
    assert (s.time_scale, s.seed, s.store, s.workers, s.replay_strict) == (0.0, 4, "sqlite:///x.db", 2, True)
    assert (s.webhooks.chaos.duplicate, s.webhook_secrets) == (0.5, (DEV_SECRET,))


def test_flags_win_over_variables_which_win_over_the_file(tmp_path: Path) -> None:
    config = tmp_path / "mock.yaml"
    config.write_text("seed: 1\ntime_scale: 5\nwebhooks: {max_attempts: 2, timeout: 1}\n", encoding="utf-8")
    env = {"MOCK_SEED": "2", "MOCK_WEBHOOKS__MAX_ATTEMPTS": "3"}
    s = load_settings(env, config, flags("--seed", "3"))
    assert (s.seed, s.time_scale, s.webhooks.max_attempts, s.webhooks.timeout) == (3, 5.0, 3, 1.0)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param({"MOCK_WEBHOOKS__MAX_ATTEMPT": "3"}, r"unknown field.*did you mean 'max_attempts'", id="typo"),
        pytest.param({"MOCK_WEBHOOKS__TIMEOUT": "nan"}, r"^MOCK_WEBHOOKS__TIMEOUT='nan' is out of range", id="nan"),
        pytest.param({"MOCK_WEBHOOKS__INTERMEDIATE": "maybe"}, "INTERMEDIATE='maybe' is not a boolean", id="bool"),
        pytest.param({"MOCK_RULES": "[{outcome: maybe}]"}, r"rules\[0\].outcome='maybe' is not one of", id="rule"),
        pytest.param({"MOCK_DURATIONS": "{image: ["}, "MOCK_DURATIONS=.* is not valid YAML", id="yaml"),
    ],
)
def test_bad_variables_name_the_variable_the_value_and_the_rule(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


def test_a_bad_flag_names_the_flag() -> None:
    with pytest.raises(SettingsError, match=r"^--webhooks-max-attempts='x' is not an integer"):
        load_settings({}, None, flags("--webhooks-max-attempts", "x"))


def test_webhook_secret_is_an_alias_of_webhooks_secrets() -> None:
    from mock_server.webhooks.signing import generate_secret

    a, b = generate_secret(b"a"), generate_secret(b"b")
    s = Settings.from_mapping({"webhook_secret": f"{a},{b}"})
    assert s.webhooks.secrets == s.webhook_secrets == (a, b)
    assert Settings().webhook_secrets == (DEV_SECRET,)


def test_python_values_are_taken_as_they_are_and_a_null_balance_is_unlimited() -> None:
    from mock_server.settings import Price

    s = Settings.from_mapping({"prices": {"image": Price(1.0, "image")}, "balances": {"a": None}, "keys": ("a",)})
    assert (s.price_for("m", "image"), s.price_for("m", "video").per) == (Price(1.0, "image"), "second")
    assert (s.balances, s.keys) == ({"a": None}, ("a",))
