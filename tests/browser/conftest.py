"""Browser tests: Playwright drives Debian's chromium and firefox-esr against a real uvicorn on loopback.

Every test that takes `browser` (or `page`) runs once in each browser (`[chromium]`, `[firefox]`), and each
browser sends whatever is not for loopback to a `ProxyTrap` of its own. The mock runs on a FakeClock the page's
buttons advance; a `contracts.receiver` on another loopback socket answers its webhooks. A failing test leaves
a screenshot under the pytest temp dir (its path is printed in the report); an uncaught exception in the
page's own script fails the test at teardown.
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
from tests.browser._browser import BROWSERS, launch, missing
from tests.browser.trap import ProxyTrap

RETRYING = WebhookSettings(backoff_base=10.0, jitter=0.0, max_attempts=3, timeout=5.0)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="module", params=list(BROWSERS))
def browser_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def trap(browser_name: str) -> Iterator[ProxyTrap]:
    """This browser's proxy, its own: what reaches it would have left the machine."""
    with ProxyTrap() as t:
        yield t


@pytest.fixture(scope="module")  # not session: Playwright's sync API keeps an event loop running until it stops,
def browser(browser_name: str, trap: ProxyTrap) -> Iterator[Any]:  # and later anyio tests need the thread's loop
    problem = missing(browser_name)
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p, browser_name, proxy_port=trap.port)
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
    thrown: list[str] = []
    page.on("pageerror", lambda error: thrown.append(f"{error.name}: {error.message}"))
    page.goto(f"{live.base_url}/_mock/ui")
    expect(page.locator("#live")).to_have_text("● live")
    yield page
    if request.node.stash.get(_FAILED, False):
        shot = tmp_path / f"failure-{browser.browser_type.name}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failing page: {shot}")
    context.close()
    assert not thrown, f"the page's script threw in {browser.browser_type.name}: {thrown}"
