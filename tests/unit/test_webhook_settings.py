from __future__ import annotations

import pytest

from mock_server.errors import SettingsError
from mock_server.webhooks.events import encode_payload, fires
from mock_server.webhooks.settings import DEV_SECRET, WebhookChaos, WebhookSettings
from mock_server.webhooks.signing import generate_secret


def test_defaults_follow_decisions_6_and_7() -> None:
    settings = WebhookSettings()
    assert settings.secrets == (DEV_SECRET,)
    assert settings.allowlist == ("loopback",)
    assert not settings.chaos.active
    assert set(settings.fire_on) == {"success", "failed", "cancelled"}


def test_from_mapping_reads_yaml_values_and_environment_strings() -> None:
    a, b = generate_secret(b"a"), generate_secret(b"b")
    settings = WebhookSettings.from_mapping(
        {
            "secrets": f"{a},{b}",
            "max-attempts": "3",
            "timeout": 0.5,
            "intermediate": "yes",
            "allowlist": ["loopback", "*.hooks.test"],
            "chaos": {"duplicate": 1, "out_of_order": True},
        }
    )
    assert settings.secrets == (a, b)
    assert settings.max_attempts == 3
    assert settings.timeout == 0.5
    assert settings.intermediate is True
    assert settings.allowlist == ("loopback", "*.hooks.test")
    assert settings.chaos == WebhookChaos(duplicate=1.0, out_of_order=True)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        pytest.param({"max_attempt": 3}, "did you mean 'max_attempts'", id="typo"),
        pytest.param({"max_attempts": "x"}, "max_attempts='x' is not an int", id="not-int"),
        pytest.param({"max_attempts": 0}, "max_attempts=0 is invalid", id="zero-attempts"),
        pytest.param({"jitter": 2}, "jitter=2.0 is invalid", id="jitter"),
        pytest.param({"timeout": 0}, "timeout=0.0 is invalid", id="timeout"),
        pytest.param({"secrets": []}, "secrets is empty", id="no-secret"),
        pytest.param({"secrets": ["nope"]}, "secrets\\[0\\]='nope'", id="bad-secret"),
        pytest.param({"chaos": {"duplicate": 1.5}}, "chaos.duplicate=1.5", id="chaos-probability"),
        pytest.param({"chaos": {"duplicat": 1}}, "did you mean 'duplicate'", id="chaos-typo"),
        pytest.param({"chaos": 3}, "webhooks.chaos: expected a mapping", id="chaos-not-mapping"),
        pytest.param({"intermediate": "maybe"}, "not a boolean", id="bool"),
    ],
)
def test_bad_settings_fail_at_startup_naming_the_key(mapping: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        WebhookSettings.from_mapping(mapping)


@pytest.mark.parametrize(
    ("event", "url", "settings", "expected"),
    [
        pytest.param("success", "http://127.0.0.1/h", WebhookSettings(), True, id="success"),
        pytest.param("failed", "http://127.0.0.1/h", WebhookSettings(), True, id="failed"),
        pytest.param("cancelled", "http://127.0.0.1/h", WebhookSettings(), True, id="cancelled"),
        pytest.param("processing", "http://127.0.0.1/h", WebhookSettings(), False, id="intermediate-off"),
        pytest.param(
            "processing", "http://127.0.0.1/h", WebhookSettings(intermediate=True), True, id="intermediate-on"
        ),
        pytest.param("success", None, WebhookSettings(), False, id="no-url"),
        pytest.param("success", "http://127.0.0.1/h", WebhookSettings(enabled=False), False, id="disabled"),
    ],
)
def test_which_events_fire(event: str, url: str | None, settings: WebhookSettings, expected: bool) -> None:
    assert fires(event, url, settings) is expected


def test_payload_is_compact_utf8_json() -> None:
    assert encode_payload({"a": "é", "b": [1]}) == '{"a":"é","b":[1]}'.encode()


def test_chaos_from_a_rule_mapping_is_validated_with_its_own_prefix() -> None:
    assert WebhookChaos.from_mapping({"bad_signature": "1"}) == WebhookChaos(bad_signature=1.0)
    with pytest.raises(SettingsError, match=r"rules\[0\]\.webhook_chaos\.delay='soon' is not a number"):
        WebhookChaos.from_mapping({"delay": "soon"}, prefix="rules[0].webhook_chaos")
    with pytest.raises(SettingsError, match=r"chaos\.duplicate=2\.0 is invalid"):
        WebhookChaos.from_mapping({"duplicate": 2})
    with pytest.raises(SettingsError, match=r"^rules\[0\]\.webhook_chaos\.duplicate=2\.0 is invalid"):
        WebhookChaos.from_mapping({"duplicate": 2}, prefix="rules[0].webhook_chaos")
    with pytest.raises(SettingsError, match=r"^rules\[0\]\.webhook_chaos\.delay=1000.* is out of range"):
        WebhookChaos.from_mapping({"delay": 10**400}, prefix="rules[0].webhook_chaos")
