"""Take the README's screenshot of the inspector: `python -m tests.browser.screenshot docs/inspector.png`.

A mock on a FakeClock with a few tasks (one failed, one still processing, one with a webhook that a
failing receiver keeps retrying), photographed by the same chromium the browser tests drive (or their
firefox: `python -m tests.browser.screenshot inspector-firefox.png firefox`).
"""

from __future__ import annotations

import sys
import time

import httpx2

from contracts.receiver import Behaviour, WebhookReceiver
from mock_server.app import create_app
from mock_server.clock import FakeClock
from mock_server.settings import Settings
from mock_server.testing import serve_in_thread
from mock_server.webhooks.settings import DEV_SECRET
from tests.browser._browser import launch, missing
from tests.browser.conftest import RETRYING

BODIES = [
    ({"model": "gpt-image-2", "function": "image", "input": {"prompt": "a lighthouse", "n": 2}}, {}),
    ({"model": "qwen3-tts-flash", "function": "audio", "input": {"prompt": "Welcome", "voice": "Cherry"}}, {}),
    (
        {"model": "gemini-2.5-flash-image", "function": "image", "input": {"prompt": "a fox"}},
        {"X-Mock-Outcome": "failed"},
    ),
    (
        {"model": "veo-3.1-lite-generate-preview", "function": "video", "input": {"prompt": "a lion", "duration": 4}},
        {"X-Mock-Duration": "600"},
    ),
]


def main(out: str, browser_name: str = "chromium") -> int:
    problem = missing(browser_name)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    from playwright.sync_api import expect, sync_playwright

    app = create_app(Settings(seed=3, webhooks=RETRYING), clock=FakeClock(start=time.time()))
    with (
        serve_in_thread(app) as live,
        WebhookReceiver([DEV_SECRET], behaviour=Behaviour(status=503)) as receiver,
        httpx2.Client(base_url=live.base_url, headers={"Authorization": "Bearer sk-demo-4f2a"}) as api,
    ):
        for body, headers in BODIES:
            body = {**body, "webhook": receiver.url} if body["function"] == "audio" else body
            api.post("/v1/predictions", json=body, headers={"X-Mock-Duration": "8", **headers}).raise_for_status()
        api.post("/_mock/clock/advance", json={"seconds": 30}).raise_for_status()
        first = api.get("/_mock/tasks").json()["data"][-1]["task_id"]
        with sync_playwright() as p:
            browser = launch(p, browser_name)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(f"{live.base_url}/_mock/ui")
            page.get_by_role("button", name=f"Open task {first}").click()
            page.locator("#task-outputs img").first.evaluate("img => img.decode()")
            expect(page.locator("#task-deliveries")).to_contain_text("no webhook URL")
            page.screenshot(path=out, full_page=True)
            browser.close()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]) if len(sys.argv) > 1 else main("docs/inspector.png"))
