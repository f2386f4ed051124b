"""Browser tests: Playwright drives Debian's chromium against a real uvicorn on loopback.

The mock runs on a FakeClock the page's buttons advance; a `contracts.receiver` on another loopback
socket answers its webhooks. A failing test leaves a screenshot under the pytest temp dir (its path is
printed in the report).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from contracts.receiver import WebhookReceiver
from mock_server.app import create_app
from mock_server.clock import FakeClock
from mock_server.settings import Settings
from mock_server.testing import LiveServer, serve_in_thread
from mock_server.webhooks.settings import DEV_SECRET, WebhookSettings
from tests.browser._browser import launch, missing

RETRYING = WebhookSettings(backoff_base=10.0, jitter=0.0, max_attempts=3, timeout=5.0)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="module")  # not session: Playwright's sync API keeps an event loop running until it stops,
def browser() -> Iterator[Any]:  # and the anyio tests collected after this folder need the thread's loop free
    problem = missing()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    app = create_app(Settings(seed=3, webhooks=RETRYING), clock=FakeClock(start=time.time()))
    with serve_in_thread(app) as server:
        yield server


@pytest.fixture
def api(live: LiveServer) -> Iterator[httpx2.Client]:
    """The mock's API as a client sees it (reset first), with the key `sk-browser-9876`."""
    with httpx2.Client(base_url=live.base_url, headers={"Authorization": "Bearer sk-browser-9876"}) as client:
        assert client.post("/_mock/reset").status_code == 200
        yield client
    live.app.state.mock.journal.check()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver([DEV_SECRET]) as r:
        yield r


@pytest.fixture
def page(browser: Any, api: httpx2.Client, live: LiveServer, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live.base_url}/_mock/ui")
    expect(page.locator("#live")).to_have_text("● live")
    yield page
    if request.node.stash.get(_FAILED, False):
        shot = tmp_path / "failure.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failing page: {shot}")
    context.close()
