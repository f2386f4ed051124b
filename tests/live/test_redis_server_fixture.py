"""The Redis tests' server fixture (tests/conftest.py) runs the binary `SHUYOU_REDIS_SERVER` names and says so."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).parents[1] / "conftest.py"
USES_IT = "def test_uses_the_server(redis_server):\n    pass\n"


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester suite on this repository's tests/conftest.py, outside CI (a missing server would skip)."""
    monkeypatch.delenv("CI", raising=False)
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(USES_IT)
    return pytester


def test_the_named_server_is_the_one_started_and_the_header_names_it(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = tmp_path / "other-server"
    script = '[ "$1" = --version ] && { echo "Other server v=9.9.9"; exit 0; }\necho "no such option $1"; exit 3\n'
    server.write_text("#!/bin/sh\n" + script)
    server.chmod(0o755)
    monkeypatch.setenv("SHUYOU_REDIS_SERVER", str(server))
    result = suite.runpytest()
    result.stdout.fnmatch_lines([f"redis tests: {server} (from SHUYOU_REDIS_SERVER): Other server v=9.9.9"])
    result.stdout.fnmatch_lines([f"*{server} exited on port * (exit 3): no such option --port*"])
    result.assert_outcomes(errors=1)


def test_a_named_server_that_is_not_there_fails_instead_of_skipping(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SHUYOU_REDIS_SERVER", str(tmp_path / "missing"))
    result = suite.runpytest()
    result.stdout.fnmatch_lines(["*SHUYOU_REDIS_SERVER=*missing* is not an executable file*"])
    result.assert_outcomes(errors=1)
