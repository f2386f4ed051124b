"""The Redis store's startup check of the server it is given (`INFO server`), on the fields real servers report."""

from __future__ import annotations

import pytest

from mock_server.store.redis import server_problem

# as printed by Debian's redis-server 7.0.15, Valkey 9.1.2 and Valkey 8.0.1 (2026-12-02), and an old Redis
REDIS_7 = {"redis_version": "7.0.15", "redis_mode": "standalone"}
VALKEY_9 = {"redis_version": "7.2.4", "server_name": "valkey", "valkey_version": "9.1.2"}
VALKEY_8 = {"redis_version": "7.2.4", "server_name": "valkey", "valkey_version": "8.0.1"}


@pytest.mark.parametrize("info", [REDIS_7, VALKEY_9, VALKEY_8])
def test_redis_7_and_valkey_are_accepted(info: dict[str, str]) -> None:
    assert server_problem(info) is None


@pytest.mark.parametrize("info", [{"redis_version": "6.2.14"}, {"redis_version": "5.0.7"}, {}, {"redis_version": "x"}])
def test_an_older_or_unknown_redis_is_refused_naming_its_version(info: dict[str, str]) -> None:
    problem = server_problem(info)
    assert problem is not None
    assert "the mock needs Redis >= 7 (or Valkey)" in problem
    assert str(info.get("redis_version", "0")) in problem
