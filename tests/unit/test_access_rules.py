"""The access rules as pure functions: Host names, allowed-host patterns, Origin, the token, and key masking."""

from __future__ import annotations

import pytest

from mock_server.access import AccessPolicy, host_name, is_loopback_name, query_token
from mock_server.errors import SettingsError
from mock_server.journal import mask_key
from mock_server.settings import Settings

LOOPBACK = AccessPolicy()
LO = "127.0.0.1"  # the local address a connection arrived on (scope["server"])


@pytest.mark.parametrize(
    ("header", "name"),
    [
        pytest.param("LocalHost:8000", "localhost", id="port-and-case"),
        pytest.param("[::1]:8000", "::1", id="ipv6-port"),
        pytest.param("::1", "::1", id="ipv6-bare"),
        pytest.param("example.com.", "example.com", id="trailing-dot"),
    ],
)
def test_host_name_strips_port_brackets_and_dot(header: str, name: str) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize("name", ["localhost", "app.localhost", "127.0.0.1", "127.9.8.7", "::1"])
def test_loopback_names(name: str) -> None:
    assert is_loopback_name(name)


@pytest.mark.parametrize("name", ["rebind.example", "localhost.example", "10.0.0.1", "0.0.0.0", "::", "128.0.0.1"])
def test_other_names_are_not_loopback(name: str) -> None:
    assert not is_loopback_name(name)


def test_loopback_bind_refuses_a_foreign_host_with_421_naming_the_header() -> None:
    refusal = LOOPBACK.host_refusal("rebind.example:8000", LO)
    assert refusal is not None
    assert refusal.status == 421
    assert "Host: 'rebind.example:8000'" in refusal.message
    assert "allowed_hosts" in refusal.message
    assert LOOPBACK.host_refusal("localhost:8000", LO) is None
    assert LOOPBACK.host_refusal("0.0.0.0:8000", LO) is None  # a browser opening http://0.0.0.0:8000 of a wildcard bind


@pytest.mark.parametrize(
    ("patterns", "host", "allowed"),
    [
        pytest.param(("mock.internal",), "mock.internal:8000", True, id="exact"),
        pytest.param(("mock.internal",), "evil.mock.internal", False, id="exact-is-not-a-suffix"),
        pytest.param((".example.com",), "api.example.com", True, id="subdomain"),
        pytest.param((".example.com",), "example.com", True, id="the-domain-itself"),
        pytest.param((".example.com",), "badexample.com", False, id="not-a-bare-suffix"),
        pytest.param(("*",), "anything.test", True, id="star"),
    ],
)
def test_allowed_hosts_patterns(patterns: tuple[str, ...], host: str, allowed: bool) -> None:
    assert (AccessPolicy.from_settings(patterns, None).host_refusal(host, LO) is None) is allowed


def test_connections_on_other_interfaces_check_host_only_when_configured() -> None:
    assert LOOPBACK.host_refusal("mock.lan", "192.168.1.5") is None
    assert LOOPBACK.host_refusal("mock.lan", "::1") is not None  # a wildcard bind, reached over loopback
    assert LOOPBACK.host_refusal("mock.lan", "testserver") is None  # in-process: no socket to rebind onto
    assert AccessPolicy.from_settings(("mock.lan",), None).host_refusal("other.lan", "192.168.1.5") is not None


@pytest.mark.parametrize(
    ("origin", "refused"),
    [
        pytest.param("http://127.0.0.1:8000", False, id="own"),
        pytest.param("HTTP://127.0.0.1:8000", False, id="own-upper-case"),
        pytest.param("http://127.0.0.1:3000", True, id="other-port"),
        pytest.param("https://127.0.0.1:8000", True, id="other-scheme"),
        pytest.param("https://evil.example", True, id="other-site"),
        pytest.param("null", True, id="sandboxed"),
    ],
)
def test_state_changing_requests_need_the_mocks_own_origin(origin: str, refused: bool) -> None:
    refusal = LOOPBACK.origin_refusal("POST", "http", "127.0.0.1:8000", origin, None)
    assert (refusal is not None) is refused
    if refusal:
        assert refusal.status == 403
        assert f"Origin: {origin!r}" in refusal.message


def test_default_port_is_not_part_of_the_origin() -> None:
    assert LOOPBACK.origin_refusal("POST", "http", "localhost:80", "http://localhost", None) is None


def test_reads_pass_and_cross_site_fetch_metadata_is_refused() -> None:
    assert LOOPBACK.origin_refusal("GET", "http", "localhost", "https://evil.example", "cross-site") is None
    refusal = LOOPBACK.origin_refusal("POST", "http", "localhost", None, "cross-site")
    assert refusal is not None
    assert "Sec-Fetch-Site" in refusal.message
    assert LOOPBACK.origin_refusal("POST", "http", "localhost", None, "same-origin") is None


def test_token_rules() -> None:
    policy = AccessPolicy.from_settings((), "t0ken")
    assert policy.token_refusal("127.0.0.1", "localhost:8000", ()) is None  # same machine, loopback name
    missing = policy.token_refusal("10.0.0.2", "mock.lan:8000", (None, None))
    assert missing is not None
    assert missing.status == 401
    assert "X-Mock-Token" in missing.message
    wrong = policy.token_refusal("10.0.0.2", "mock.lan:8000", ("nope",))
    assert wrong is not None
    assert wrong.status == 403
    assert policy.token_refusal("10.0.0.2", "mock.lan:8000", (None, "t0ken")) is None
    rebound = policy.token_refusal("127.0.0.1", "rebind.example", ())  # loopback peer, foreign name: rebinding
    assert rebound is not None
    assert rebound.status == 401


def test_without_a_token_other_machines_are_told_how_to_get_in() -> None:
    refusal = LOOPBACK.token_refusal("10.0.0.2", "127.0.0.1", ("guess",))
    assert refusal is not None
    assert refusal.status == 403
    assert "set admin_token" in refusal.message


def test_query_token() -> None:
    assert query_token("a=1&token=abc%2B") == "abc+"
    assert query_token("a=1") is None


@pytest.mark.parametrize(
    ("key", "served"),
    [
        pytest.param("sk-live-0123456789abcdef", "…cdef", id="long"),
        pytest.param("sk-test", "…est", id="short-shows-under-half"),
        pytest.param("k", "…", id="one-char"),
    ],
)
def test_mask_key_shows_at_most_the_last_4_characters(key: str, served: str) -> None:
    assert mask_key(key) == served


def test_serve_generates_a_token_only_for_a_non_loopback_bind() -> None:
    from mock_server.cli import _with_token, token_line

    assert _with_token(Settings(host="127.0.0.1")).admin_token is None
    assert _with_token(Settings(host="0.0.0.0", admin_token="mine")).admin_token == "mine"
    first, second = (_with_token(Settings(host="0.0.0.0")).admin_token for _ in range(2))
    assert first is not None
    assert len(first) >= 32
    assert first != second
    line = token_line("http://0.0.0.0:8000", Settings(admin_token="t0k"))
    assert "X-Mock-Token: t0k" in line
    assert "/_mock/ui?token=t0k" in line


def test_allowed_hosts_from_config_and_environment() -> None:
    assert Settings.from_mapping({"allowed_hosts": ["mock.internal", ".dev.test"]}).allowed_hosts == (
        "mock.internal",
        ".dev.test",
    )
    assert Settings.from_env({"MOCK_ALLOWED_HOSTS": "a.test, b.test"}).allowed_hosts == ("a.test", "b.test")
    with pytest.raises(SettingsError, match="no scheme, port or path"):
        Settings(allowed_hosts=("localhost:8000",))
    assert Settings.from_mapping({"allowed_hosts": "a.test,b.test"}).allowed_hosts == ("a.test", "b.test")  # as env
    with pytest.raises(SettingsError, match=r"allowed_hosts=\{.*\} is not a list"):
        Settings.from_mapping({"allowed_hosts": {"mock.internal": 1}})
