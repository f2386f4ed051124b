from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests._support import RedisProcess

settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


REDIS_SERVER = "/usr/bin/redis-server"
"""Debian's binary, the default when `redis-server` is not on PATH."""
SERVER_ENV = "SHUYOU_REDIS_SERVER"
"""Names another server binary for the Redis tests, e.g. a Valkey build: SHUYOU_REDIS_SERVER=/path/valkey-server."""


def _redis_binary() -> tuple[str | None, str]:
    """The server binary the Redis tests start and where it came from: $SHUYOU_REDIS_SERVER, PATH, Debian's."""
    chosen = os.environ.get(SERVER_ENV)
    if chosen:
        return chosen, SERVER_ENV
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path, "PATH"
    return (REDIS_SERVER, "Debian's") if os.path.exists(REDIS_SERVER) else (None, "")


def _required_redis_binary() -> str:
    """`_redis_binary()`, or the test's end: a missing one fails under CI=true and skips elsewhere; a
    `$SHUYOU_REDIS_SERVER` that is not an executable file fails (it was asked for)."""
    binary, source = _redis_binary()
    if binary is None:
        message = "redis-server not found; install it with: apt-get install -y redis-server"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    if source == SERVER_ENV and not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        pytest.fail(f"{SERVER_ENV}={binary!r} is not an executable file")
    return binary


def _server_version(binary: str) -> str:
    """The binary's own `--version` line (`Redis server v=7.0.15 ...`, `Valkey server v=9.1.2 ...`), or why not."""
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"does not run ({exc})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else f"printed no version (exit {done.returncode})"


def pytest_report_header(config: pytest.Config) -> str:
    """One line naming the Redis server the tests start (a Valkey run is visible in the log)."""
    binary, source = _redis_binary()
    if binary is None:
        return "redis tests: no redis-server (apt-get install -y redis-server; or set SHUYOU_REDIS_SERVER)"
    return f"redis tests: {binary} (from {source}): {_server_version(binary)}"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private Redis server on a free loopback port with a temp dir (never 6379); yields its base URL.

    The binary is `$SHUYOU_REDIS_SERVER` when set (any Redis >= 7 or Valkey server, e.g.
    `SHUYOU_REDIS_SERVER=/path/valkey-server make test`), else `redis-server` from PATH, else Debian's
    `/usr/bin/redis-server`; the pytest report header names it and its version. A `$SHUYOU_REDIS_SERVER`
    that is not an executable file fails the tests (it was asked for); a missing `redis-server` fails
    under CI=true and skips elsewhere. The server's output goes to `server.log` in its temp dir, whose
    end a start-up failure quotes.
    """
    server = RedisProcess(_required_redis_binary(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.base_url
    finally:
        server.terminate()


@pytest.fixture(scope="session")
def redis_binary() -> str:
    """The server binary `redis_server` runs, for a test that starts (and kills) a server of its own."""
    return _required_redis_binary()


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """A flushed database on the session's redis-server."""
    import redis

    with redis.Redis.from_url(f"{redis_server}/0") as client:
        client.flushdb()
    return f"{redis_server}/0"


@pytest.fixture(params=["sqlite", "redis"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Callable[[], int]]]:
    """A fresh shared store's URL (SQLite, Redis) and a reader of how many of its tasks have ended, read beside
    the mock (its own connection)."""
    if request.param == "sqlite":
        path = tmp_path / "mock.db"

        def ended_in_sqlite() -> int:
            if not path.exists():
                return 0
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
                return int(db.execute("SELECT COUNT(*) FROM task WHERE status != 'processing'").fetchone()[0])

        yield f"sqlite:///{path}", ended_in_sqlite
        return
    import redis

    url: str = request.getfixturevalue("redis_url")
    with redis.Redis.from_url(url) as client:

        def ended_in_redis() -> int:
            return int(client.zcard("shuyou:tasks")) - int(client.scard("shuyou:processing"))

        yield url, ended_in_redis
