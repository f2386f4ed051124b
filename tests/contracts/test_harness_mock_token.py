"""A mock on another machine wants its admin token on /_mock: the harness sends it when given one."""

from __future__ import annotations

from typing import Any

from contract_mocks import KEY, build_mock, serve

import contracts.pytest_plugin
import openapi
from contracts.cli import main
from contracts.serving import Served
from contracts.target import ENV_MOCK_TOKEN, probe
from mock_server.access import TOKEN_HEADER

TOKEN = "t0ken-of-the-remote-mock"


class Remote:
    """Every client as the mock sees one on another machine (192.0.2.10, TEST-NET-1), though it is on loopback."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "client": ("192.0.2.10", 40000)}
        await self.app(scope, receive, send)


def test_the_remote_mock_is_the_mock_only_with_its_token(served: list[Served]) -> None:
    served.append(serve(Remote(build_mock(admin_token=TOKEN))))
    assert not probe(served[0].base_url).is_mock  # 401 without the token: taken for some other endpoint
    assert probe(served[0].base_url, token=TOKEN).is_mock


def test_a_run_given_the_token_advances_the_remote_mocks_clock(served: list[Served]) -> None:
    app = build_mock(admin_token=TOKEN)
    served.append(serve(Remote(app)))
    argv = ["run", "--base-url", served[0].base_url, "--api-key", KEY, "--phases", "lifecycle", "--seed", "3"]
    argv += ["--timeout", "120"]  # mock seconds when the clock advances; wall seconds (then a failure) when refused
    assert main(argv, environ={ENV_MOCK_TOKEN: TOKEN}) == 0
    advances = app.state.mock.journal.requests(path="/_mock/clock/advance")
    assert advances
    assert {e.status for e in advances} == {200}  # the clock moved instead of the run waiting


def test_the_token_header_is_the_one_the_spec_names_and_the_mock_reads() -> None:
    assert openapi.control_spec()["x-mock-token"]["header"].lower() == TOKEN_HEADER
    assert contracts.pytest_plugin.ENV_MOCK_TOKEN == ENV_MOCK_TOKEN
