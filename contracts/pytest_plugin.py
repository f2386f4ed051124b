"""pytest11 plugin `contracts`: run the contract harness as a pytest suite.

    pytest --pyargs contracts.suite --contracts-base-url http://127.0.0.1:8000 --contracts-api-key sk-test

(or set SHUYOU_CONTRACTS_BASE_URL / SHUYOU_CONTRACTS_API_KEY). The harness runs once per session; each rule
is one test, failing with its findings. Without a base URL the suite is skipped. Imports nothing heavy here.
Also provides `webhook_receiver` and `webhook_receiver_factory` (the receiver from `contracts.receiver`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from contracts.receiver import WebhookReceiver
    from contracts.report import RunResult
    from contracts.runner import Options

__all__ = [
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_MOCK_TOKEN",
    "contracts_options",
    "contracts_result",
    "pytest_addoption",
    "webhook_receiver",
    "webhook_receiver_factory",
]

ENV_BASE_URL = "SHUYOU_CONTRACTS_BASE_URL"
ENV_API_KEY = "SHUYOU_CONTRACTS_API_KEY"
ENV_MOCK_TOKEN = "SHUYOU_MOCK_TOKEN"  # = contracts.target.ENV_MOCK_TOKEN, not imported: target imports httpx2


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contracts", "ShuYou contract harness (pytest --pyargs contracts.suite)")
    group.addoption("--contracts-base-url", default=None, help=f"base URL to check (env {ENV_BASE_URL})")
    group.addoption("--contracts-api-key", default=None, help=f"bearer key (env {ENV_API_KEY})")
    group.addoption("--contracts-budget", type=int, default=None, help="most billable calls (default as the CLI)")
    group.addoption("--contracts-phases", default=None, help="comma-separated phases (default: all)")
    group.addoption("--contracts-max-examples", type=int, default=10, help="per operation and phase")
    group.addoption("--contracts-seed", type=int, default=None, help="seed (printed in the summary)")
    group.addoption("--contracts-webhook-secret", default=None, help="whsec_... to verify webhook signatures")
    group.addoption("--contracts-strict", action="store_true", help="x-assumption differences fail too")
    group.addoption(
        "--contracts-mock-token", default=None, help=f"our mock's admin token for /_mock (env {ENV_MOCK_TOKEN})"
    )


@pytest.fixture(scope="session")
def contracts_options(pytestconfig: pytest.Config) -> Options:
    """The harness options from the command line and environment; skips when no base URL is given."""
    from contracts.runner import ALL_PHASES, Options

    base_url = pytestconfig.getoption("contracts_base_url") or os.environ.get(ENV_BASE_URL)
    if not base_url:
        pytest.skip(f"contract suite: pass --contracts-base-url URL or set {ENV_BASE_URL}")
    phases = pytestconfig.getoption("contracts_phases")
    return Options(
        base_url=base_url,
        api_key=pytestconfig.getoption("contracts_api_key") or os.environ.get(ENV_API_KEY, ""),
        budget=pytestconfig.getoption("contracts_budget"),
        seed=pytestconfig.getoption("contracts_seed"),
        max_examples=pytestconfig.getoption("contracts_max_examples"),
        phases=tuple(p.strip() for p in phases.split(",") if p.strip()) if phases else ALL_PHASES,
        webhook_secret=pytestconfig.getoption("contracts_webhook_secret"),
        strict=pytestconfig.getoption("contracts_strict"),
        mock_token=pytestconfig.getoption("contracts_mock_token") or os.environ.get(ENV_MOCK_TOKEN) or None,
    )


@pytest.fixture(scope="session")
def contracts_result(contracts_options: Options) -> RunResult:
    """One harness run for the whole session (the summary goes to the terminal with `-s`)."""
    from contracts.report import render_summary
    from contracts.runner import run
    from contracts.target import TargetUnreachable

    try:
        result = run(contracts_options, progress=lambda _: None)
    except TargetUnreachable as exc:
        pytest.fail(f"contract suite: {exc}", pytrace=False)
    print(render_summary(result))
    return result


@pytest.fixture
def webhook_receiver_factory() -> Iterator[Callable[..., WebhookReceiver]]:
    """Start webhook receivers on 127.0.0.1:0: `make(secrets=(), **behaviour)`; all stop after the test."""
    started: list[WebhookReceiver] = []

    def make(secrets: Sequence[str] = (), **behaviour: Any) -> WebhookReceiver:
        from contracts.receiver import Behaviour, WebhookReceiver  # lazy: keep the plugin cheap to import

        receiver = WebhookReceiver(secrets, behaviour=Behaviour.from_json(behaviour) if behaviour else None)
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


@pytest.fixture
def webhook_receiver(webhook_receiver_factory: Callable[..., WebhookReceiver]) -> WebhookReceiver:
    """One receiver per test: `url`, `deliveries()`, `wait_for(n)`; no signature check (the factory takes secrets)."""
    return webhook_receiver_factory()
