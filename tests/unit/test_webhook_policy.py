from __future__ import annotations

import pytest

from mock_server.webhooks.policy import Allowlist, WebhookUrlRejected, check_create_url, mask_secrets, mask_userinfo


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://your-domain.com/webhook/image-done", id="https"),
        pytest.param("http://127.0.0.1:9000/hook", id="http-loopback-v4"),
        pytest.param("http://[::1]:9000/hook", id="http-loopback-v6"),
        pytest.param("http://localhost/hook", id="http-localhost"),
        pytest.param("http://127.0.0.2:9000/hook", id="http-rest-of-127/8"),
        pytest.param("http://127.255.255.254/hook", id="http-top-of-127/8"),
        pytest.param("https://user:pw@hooks.example/hook", id="https-userinfo"),
        pytest.param("http://user@localhost/hook", id="http-userinfo"),
    ],
)
def test_create_time_policy_accepts(url: str) -> None:
    assert check_create_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://example.com/hook", id="plain-http-remote"),
        pytest.param("ftp://127.0.0.1/hook", id="other-scheme"),
        pytest.param("/relative/hook", id="relative"),
        pytest.param("https://", id="no-host"),
        pytest.param("https://exa mple.com/", id="space"),
        pytest.param("http://127.0.0.1:99999/", id="bad-port"),
        pytest.param("", id="empty"),
        pytest.param("http://127.1/hook", id="short-ipv4"),
        pytest.param("http://[0::1]/hook", id="non-canonical-ipv6"),
        pytest.param("http://localhost./hook", id="localhost-fqdn-at-create"),
        pytest.param("http://a@b@127.0.0.1/hook", id="two-at-signs"),
        pytest.param("http://128.0.0.1/hook", id="outside-127/8"),
    ],
)
def test_create_time_policy_rejects_with_field_and_rule(url: str) -> None:
    with pytest.raises(WebhookUrlRejected, match=r"^webhook: "):
        check_create_url(url)


def test_non_string_webhook_is_rejected() -> None:
    with pytest.raises(WebhookUrlRejected, match="got a int"):
        check_create_url(42)


@pytest.mark.parametrize(
    ("entries", "url", "allowed"),
    [
        pytest.param(["loopback"], "http://127.0.0.1:1/x", True, id="loopback-v4"),
        pytest.param(["loopback"], "http://127.5.6.7:1/x", True, id="loopback-range"),
        pytest.param(["loopback"], "http://[::1]:1/x", True, id="loopback-v6"),
        pytest.param(["loopback"], "http://localhost:1/x", True, id="localhost"),
        pytest.param(["loopback"], "https://api.shuyou.ai/api/callback", False, id="docs-example-blocked"),
        pytest.param(["loopback"], "https://your-domain.com/webhook", False, id="your-domain-blocked"),
        pytest.param(["loopback"], "https://10.0.0.1/x", False, id="private-blocked"),
        pytest.param(["loopback"], "http://evil.localhost/x", False, id="localhost-subdomain-not-trusted"),
        pytest.param(["loopback"], "http://localhost.:1/x", True, id="localhost-fqdn"),
        pytest.param(["hooks.test"], "https://hooks.test/x", True, id="exact-name"),
        pytest.param(["hooks.test"], "https://a.hooks.test/x", False, id="exact-name-no-sub"),
        pytest.param(["*.hooks.test"], "https://a.hooks.test/x", True, id="suffix"),
        pytest.param(["10.0.0.0/8"], "https://10.1.2.3/x", True, id="cidr"),
        pytest.param([], "http://127.0.0.1/x", False, id="empty-list"),
    ],
)
def test_delivery_allowlist(entries: list[str], url: str, allowed: bool) -> None:
    assert Allowlist(entries).allows(url) is allowed


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://hook:s3cret@example.com/h?x=1", "https://hook:***@example.com/h?x=1"),
        ("http://u:p%40ss@127.0.0.1:9/x", "http://u:***@127.0.0.1:9/x"),
        ('{"webhook":"http:\\/\\/u:pw@h\\/x"}', '{"webhook":"http:\\/\\/u:***@h\\/x"}'),  # JSON-escaped slashes
        ("https://hook@example.com/h", "https://hook@example.com/h"),  # no password: nothing to hide
        ("https://example.com/a@b", "https://example.com/a@b"),
        ("mailto:a@b.c", "mailto:a@b.c"),
    ],
)
def test_mask_userinfo_hides_only_the_password(text: str, shown: str) -> None:
    assert mask_userinfo(text) == shown
    assert mask_userinfo(shown) == shown


def test_mask_secrets_walks_json_values() -> None:
    value = {"webhook": "https://a:b@c.d/", "attempts": [{"url": "https://a:b@c.d/"}], "n": 1, "x": None}
    assert mask_secrets(value) == {
        "webhook": "https://a:***@c.d/",
        "attempts": [{"url": "https://a:***@c.d/"}],
        "n": 1,
        "x": None,
    }
