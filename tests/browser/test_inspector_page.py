"""The inspector as a user sees it, in chromium and in firefox.

Live tasks, the clock buttons, media, webhooks, rules, requests, reset, the keyboard, credits; and last, that the
browser sent nothing off the machine.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import httpx2
import pytest

from contracts.receiver import WebhookReceiver
from mock_server.testing import LiveServer
from tests.browser._browser import INSTALL
from tests.browser.trap import ProxyTrap

try:
    from playwright.sync_api import Error as PlaywrightError, expect
except ImportError:  # pragma: no cover - playwright is in the test extras
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(INSTALL, allow_module_level=True)

IMAGE = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "a lighthouse"}}
AUDIO = {"model": "qwen3-tts-flash", "function": "audio", "input": {"prompt": "Welcome", "voice": "Cherry"}}


def create(api: httpx2.Client, body: dict[str, Any] = IMAGE, **headers: str) -> str:
    response = api.post("/v1/predictions", json=body, headers=headers)
    assert response.status_code == 200, response.text
    task_id: str = response.json()["data"]["task_id"]
    return task_id


def row(page: Any, task_id: str) -> Any:
    return page.locator(f'#tasks-rows tr[data-task="{task_id}"]')


def test_new_tasks_appear_live_and_finish_when_the_clock_button_is_pressed(page: Any, api: httpx2.Client) -> None:
    first = create(api, **{"X-Mock-Duration": "10"})
    second = create(api, **{"X-Mock-Duration": "10", "X-Mock-Outcome": "failed"})
    expect(page.locator("#tasks-rows tr")).to_have_count(2)
    expect(page.locator("#tasks-rows tr").first).to_have_attribute("data-task", second)  # newest first
    expect(row(page, first)).to_contain_text("processing")
    expect(row(page, first)).to_contain_text("…9876")
    page.get_by_role("button", name="+10 s").click()
    expect(row(page, first).locator(".status")).to_have_text("success")
    expect(row(page, second).locator(".status")).to_have_text("failed")
    expect(row(page, first).locator("ol.events li")).to_have_text(["processing +0.0 s", "success +10.0 s"])
    assert "sk-browser-9876" not in page.content()


def test_an_open_task_turns_success_live_and_shows_its_image_then_audio_plays(page: Any, api: httpx2.Client) -> None:
    image = create(api, **{"X-Mock-Duration": "60"})
    audio = create(api, AUDIO, **{"X-Mock-Duration": "60"})
    page.get_by_role("button", name=f"Open task {image}").click()
    expect(page.locator("#task-detail-title")).to_have_text(f"Task {image}: processing")
    expect(page.locator("#task-outputs img")).to_have_count(0)
    page.get_by_role("button", name="+1 min").click()
    expect(page.locator("#task-detail-title")).to_have_text(f"Task {image}: success")
    picture = page.locator("#task-outputs img")
    expect(picture).to_be_visible()
    picture.evaluate("img => img.decode()")
    assert picture.evaluate("img => img.naturalWidth") > 0
    expect(page.locator("#task-body")).to_contain_text('"task_status": "success"')
    page.get_by_role("button", name=f"Open task {audio}").click()
    sound = page.locator("#task-outputs audio")
    expect(sound).to_have_attribute("controls", "")
    page.wait_for_function("() => document.querySelector('#task-outputs audio')?.duration > 0")


def test_a_failing_receiver_shows_attempts_a_countdown_and_redeliver_succeeds(
    page: Any, api: httpx2.Client, receiver: WebhookReceiver
) -> None:
    receiver.set_behaviour(status=500)
    task_id = create(api, {**IMAGE, "webhook": receiver.url}, **{"X-Mock-Duration": "1"})
    page.get_by_role("tab", name="Webhooks").click()
    api.post("/_mock/clock/advance", json={"seconds": 1})
    delivery = page.locator("#webhooks-rows tr").first
    expect(delivery).to_contain_text(task_id[:12])
    expect(delivery.locator("ol.attempts li")).to_have_count(1)
    expect(delivery.locator("ol.attempts li").first).to_contain_text(": 500 (")
    expect(delivery.locator(".countdown")).to_have_text("in 10.0 s")  # backoff_base 10 s on a clock at rest
    page.get_by_role("button", name="+10 s").click()
    expect(delivery.locator("ol.attempts li")).to_have_count(2)
    receiver.set_behaviour(status=200)
    delivery.get_by_role("button", name="Redeliver").click()
    expect(delivery.locator(".status")).to_have_text("delivered")
    expect(delivery.locator("ol.attempts li").last).to_contain_text(": 200 (")
    assert len(receiver.wait_for(3)) == 3


def test_a_bad_rule_shows_its_error_in_place_and_a_good_one_is_saved(page: Any, api: httpx2.Client) -> None:
    page.get_by_role("tab", name="Rules").click()
    editor = page.get_by_label("Rules in force")
    expect(editor).to_have_value("[]\n")
    editor.fill("- name: flaky\n  outcome: maybe\n")
    page.get_by_role("button", name="Save rules").click()
    expect(page.locator("#rules-error")).to_contain_text("outcome")
    expect(editor).to_have_attribute("aria-invalid", "true")
    editor.fill("- name: flaky\n  outcome: failed\n")
    page.get_by_role("button", name="Save rules").click()
    expect(page.locator("#notice")).to_have_text("Rules saved: 1 in force")
    expect(page.locator("#rules-error")).to_have_text("")
    assert api.get("/_mock/rules").json()["rules"] == [{"name": "flaky", "outcome": "failed"}]


def test_requests_filter_and_show_their_bodies(page: Any, api: httpx2.Client) -> None:
    create(api)
    assert api.get("/v1/credits").status_code == 200
    page.get_by_role("tab", name="Requests").click()
    rows = page.locator("#requests-rows tr")
    expect(rows).to_have_count(3)  # the fixture's reset, the create and the credits; not the page's own requests
    page.get_by_label("path").fill("predictions")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("button", name="Bodies of POST /v1/predictions").click()
    expect(page.locator("#request-body")).to_contain_text('"prompt": "a lighthouse"')
    expect(page.locator("#response-body")).to_contain_text('"task_status": "processing"')


def test_reset_empties_the_page_and_forgets_server_errors(page: Any, api: httpx2.Client, live: LiveServer) -> None:
    create(api)
    expect(page.locator("#tasks-rows tr")).to_have_count(1)
    live.app.state.mock.journal.error(RuntimeError("a background callback failed"))
    expect(page.get_by_role("link", name="⚠ 1 server-side error (tracebacks in /_mock/requests)")).to_be_visible()
    page.get_by_role("button", name="Reset…").click()
    page.get_by_role("button", name="Confirm reset").click()
    expect(page.locator("#tasks-rows tr")).to_have_count(0)
    expect(page.locator("#notice")).to_contain_text("Reset")
    expect(page.locator("#server-errors")).to_be_hidden()
    assert api.get("/_mock/tasks").json()["data"] == []


def test_the_keyboard_alone_moves_between_sections_and_advances_the_clock(page: Any, api: httpx2.Client) -> None:
    task_id = create(api, **{"X-Mock-Duration": "10"})
    page.get_by_role("tab", name="Tasks").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Webhooks")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#view-webhooks")).to_be_visible()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#view-tasks")).to_be_visible()
    page.get_by_role("button", name="+10 s").focus()
    page.keyboard.press("Enter")
    expect(row(page, task_id).locator(".status")).to_have_text("success")
    page.get_by_role("button", name=f"Open task {task_id}").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#task-detail-title")).to_be_focused()


def test_credits_show_what_each_key_used(page: Any, api: httpx2.Client) -> None:
    create(api, **{"X-Mock-Duration": "1"})
    api.post("/_mock/clock/advance", json={"seconds": 1})
    page.get_by_role("tab", name="Credits").click()
    credits = page.locator("#credits-rows tr")
    expect(credits).to_have_count(1)
    expect(credits.first.locator("td").nth(0)).to_have_text("…9876")
    used = api.get("/v1/credits").json()["data"]["total_usage"]
    assert used > 0
    expect(credits.first.locator("td").nth(2)).to_have_text(f"{used:.4f}")


def test_on_a_running_clock_tasks_finish_on_the_page_by_themselves(browser: Any) -> None:
    from mock_server.app import create_app
    from mock_server.settings import Settings
    from mock_server.testing import serve_in_thread

    with serve_in_thread(create_app(Settings())) as server, httpx2.Client(base_url=server.base_url) as client:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"{server.base_url}/_mock/ui")
            shown = page.locator("#clock-now").inner_text()
            headers = {"Authorization": "Bearer k", "X-Mock-Duration": "2"}
            task_id = client.post("/v1/predictions", json=IMAGE, headers=headers).json()["data"]["task_id"]
            expect(row(page, task_id).locator(".status")).to_have_text("processing")
            expect(row(page, task_id).locator(".status")).to_have_text("success")  # the mock's own timer, 2 s later
            expect(page.locator("#clock-now")).not_to_have_text(shown)  # the page counts the clock forward
        finally:
            context.close()


def test_with_workers_the_requests_tab_lists_another_worker_s_requests_too(browser: Any, tmp_path: Any) -> None:
    import time

    from mock_server.app import create_app
    from mock_server.journal import Journal
    from mock_server.settings import Settings
    from mock_server.store import SharedJournal, open_store
    from mock_server.testing import serve_in_thread

    url = f"sqlite:///{tmp_path / 'w.db'}"
    app = create_app(Settings(workers=2, store=url))  # one of `--workers 2`'s
    store = open_store(url)  # the other worker, on the same file
    assert isinstance(store, SharedJournal)
    other = Journal()
    other.share(store)
    other.add(time.time(), "DELETE", "/v1/the-other-worker", "", 405, "sk-other1", "r-other", 2.5, None, None, None)
    other.flush()  # what its sweep does every 0.25 s
    with serve_in_thread(app) as server:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(f"{server.base_url}/_mock/ui")
            page.get_by_role("tab", name="Requests").click()
            expect(page.locator("#requests-scope")).to_have_text(
                f"Requests of all 2 workers (at most 0.25 s behind). This page is served by worker {os.getpid()},"
                " which keeps the bodies of the requests it answered only."
            )
            theirs = page.locator("#requests-rows tr", has_text="/v1/the-other-worker")
            expect(theirs).to_contain_text("405")
            expect(theirs).to_contain_text("…her1")  # its key masked, as this worker's own
            expect(theirs.get_by_role("button")).to_have_count(0)  # its bodies are with the other worker
        finally:
            context.close()
    store.close()
    app.state.mock.store.close()


def test_the_filters_offer_the_spec_s_functions_and_every_task_and_delivery_status(page: Any) -> None:
    expect(page.locator('#view-tasks select[name="function"] option')).to_have_text(["any", "audio", "image", "video"])
    statuses = ["any", "processing", "success", "failed", "cancelled"]
    expect(page.locator('#view-tasks select[name="status"] option')).to_have_text(statuses)
    page.get_by_role("tab", name="Webhooks").click()
    deliveries = ["any", "pending", "delivered", "exhausted", "gone", "blocked"]  # gone: a 410 stopped it
    expect(page.locator('#view-webhooks select[name="status"] option')).to_have_text(deliveries)


def test_the_requests_tab_of_a_single_process_has_no_worker_note(page: Any, api: httpx2.Client) -> None:
    create(api)
    page.get_by_role("tab", name="Requests").click()
    expect(page.locator("#requests-rows tr")).to_have_count(2)
    expect(page.locator("#requests-scope")).to_be_hidden()


def test_a_config_file_that_does_not_load_is_reported_at_the_top(page: Any, live: LiveServer) -> None:
    from mock_server.watch import ReloadStatus

    error = "rules[0].outcome: 'maybe' is not one of success, failed"
    live.app.state.config_watcher = SimpleNamespace(status=ReloadStatus("mock.yaml", state="invalid", error=error))
    try:
        expect(page.get_by_role("alert").filter(has_text="mock.yaml")).to_have_text(
            f"Config file mock.yaml was not applied: {error} (the last good version stays in force)"
        )
        live.app.state.config_watcher = SimpleNamespace(status=ReloadStatus("mock.yaml", reloads=1))
        expect(page.locator("#config-status")).to_be_hidden()
    finally:
        del live.app.state.config_watcher


def test_the_browser_reached_nothing_but_loopback(browser: Any, trap: ProxyTrap) -> None:
    """Last in the module, so the trap has seen everything this browser did in the tests above."""
    context = browser.new_context()
    try:
        page = context.new_page()
        for url in ("http://shuyou.invalid/", "https://shuyou.invalid/"):
            with pytest.raises(PlaywrightError):
                page.goto(url)
    finally:
        context.close()
    assert set(trap.lines) == {"GET http://shuyou.invalid/ HTTP/1.1", "CONNECT shuyou.invalid:443 HTTP/1.1"}
