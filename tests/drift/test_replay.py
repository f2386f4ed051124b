from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from PIL import Image
from standin import API_KEY, Differences

from contracts.cli import main
from contracts.polling import example_body
from contracts.spec import load
from mock_server.app import create_app
from mock_server.errors import SettingsError
from mock_server.journal import mask_key
from mock_server.settings import Settings
from mock_server.testing import serve_in_thread
from openapi.cassette import read_cassette
from tests.app.test_control_doc import check

AUTH = {"Authorization": "Bearer sk-test"}
MASKED = mask_key("sk-test")  # as the control surface shows keys


@pytest.fixture
def replaying(tmp_path: Path) -> Iterator[object]:
    started, clients = [], []

    def start(cassette: Path, *, strict: bool = False) -> httpx2.Client:
        live = serve_in_thread(create_app(Settings(replay=str(cassette), replay_strict=strict, seed=5)))
        started.append(live)
        clients.append(httpx2.Client(base_url=live.base_url, headers=AUTH, timeout=10))
        return clients[-1]

    yield start
    for client in clients:
        client.close()
    for live in started:
        live.stop()


def _advance(client: httpx2.Client, seconds: float) -> None:
    client.post("/_mock/clock/advance", json={"seconds": seconds}).raise_for_status()


def test_a_replayed_task_follows_the_recorded_statuses_on_the_mock_clock_under_a_new_id(
    record_standin,
    replaying,  # type: ignore[no-untyped-def]
) -> None:
    cassette = record_standin(Differences(queued=True, integer_code=True, slower=3.0), with_files=True)
    recorded = next(ex for ex in read_cassette(cassette).exchanges if ex.name == "create gpt-image-2")
    client = replaying(cassette)
    created = client.post("/v1/predictions", json=recorded.request_body)
    task_id = created.json()["data"]["task_id"]
    assert (created.json()["data"]["task_status"], created.headers["x-mock-replayed"]) == ("queued", "1")
    assert task_id != recorded.task
    seen = []
    for step in (1, 6, 8, 15):  # ages 1, 7, 15, 30
        _advance(client, step)
        body = client.get(f"/v1/predictions/{task_id}").json()
        seen.append(body["data"]["task_status"])
    assert seen == ["queued", "processing", "processing", "success"]
    assert (body["code"], body["data"]["task_id"]) == (0, task_id)
    url = body["data"]["output"][0]["image"]
    assert url.startswith(f"{client.base_url}/files/{task_id}/")
    image = client.get(url)
    recorded_file = next(ex.file for ex in read_cassette(cassette).exchanges if ex.file)
    assert image.content == recorded_file.data  # the recorded bytes


def test_a_file_url_is_valid_from_the_first_poll_that_shows_it(record_standin, replaying) -> None:  # type: ignore[no-untyped-def]
    """A recorded answer is shown from half-way since the poll before it; its URLs must not expire later than
    any URL the mock issues at that moment (they answered 403 until the clock reached the recorded poll)."""
    cassette = record_standin(Differences(slower=3.0), with_files=True)
    recorded = next(ex for ex in read_cassette(cassette).exchanges if ex.name == "create gpt-image-2")
    client = replaying(cassette)
    task_id = client.post("/v1/predictions", json=recorded.request_body).json()["data"]["task_id"]
    for _ in range(120):  # one mock second at a time, until the first poll that shows the result
        body = client.get(f"/v1/predictions/{task_id}").json()
        if body["data"]["task_status"] == "success":
            break
        _advance(client, 1)
    assert body["data"]["task_status"] == "success"
    answer = client.get(body["data"]["output"][0]["image"])
    assert answer.status_code == 200, answer.text


def test_without_recorded_bytes_a_replayed_file_is_generated(record_standin, replaying) -> None:  # type: ignore[no-untyped-def]
    client = replaying(record_standin(Differences(), models=("gpt-image-2",)))
    task_id = client.post("/v1/predictions", json=example_body(load(), "gpt-image-2")).json()["data"]["task_id"]
    _advance(client, 20)
    url = client.get(f"/v1/predictions/{task_id}").json()["data"]["output"][0]["image"]
    image = Image.open(io.BytesIO(client.get(url).content))
    assert image.format == "PNG"


def test_unmatched_requests_are_simulated_or_refused_when_strict(record_standin, replaying) -> None:  # type: ignore[no-untyped-def]
    cassette = record_standin(Differences(queued=True), models=("gpt-image-2",))
    other = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "something never recorded"}}
    simulated = replaying(cassette).post("/v1/predictions", json=other)
    assert simulated.status_code == 200
    assert simulated.json()["data"]["task_status"] == "processing"  # the mock's own answer
    assert "x-mock-replayed" not in simulated.headers
    refused = replaying(cassette, strict=True).post("/v1/predictions", json=other)
    assert refused.status_code == 404
    assert refused.json()["error"]["type"] == "not_found"
    assert "replay: no recorded exchange matches POST /v1/predictions" in refused.json()["error"]["message"]


def test_a_name_header_picks_the_recorded_exchange_whatever_the_body(record_standin, replaying) -> None:  # type: ignore[no-untyped-def]
    client = replaying(record_standin(Differences(queued=True)), strict=True)
    answer = client.post("/v1/predictions", json={"anything": 1}, headers={"X-Mock-Replay": "create sora-2"})
    assert answer.json()["data"]["task_status"] == "queued"
    assert client.get("/v1/credits").json() == {"data": {"total_credits": 100, "total_usage": 25, "balance": 75}}


def test_record_replay_drift_on_the_mocks_own_traffic_is_a_round_trip_without_drift(
    mock_url: str,
    replaying,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    first, second = tmp_path / "first.cassette", tmp_path / "second.cassette"
    record = ["record", "--api-key", API_KEY, "--seed", "4"]
    assert main([*record, "--base-url", mock_url, "--out", str(first)]) == 0
    again = replaying(first, strict=True)
    assert main([*record, "--base-url", str(again.base_url), "--out", str(second)]) == 0
    assert main(["drift", str(second)]) == 0
    assert main(["drift", str(first), "--against", str(again.base_url)]) == 0


def test_a_bad_replay_cassette_stops_the_mock_at_startup(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cassette"
    bad.write_text("{}\n")
    with pytest.raises(SettingsError, match=r"--replay: cassette .* first line must be the header"):
        create_app(Settings(replay=str(bad)))


def test_replayed_requests_need_a_key_like_any_other(record_standin, replaying) -> None:  # type: ignore[no-untyped-def]
    cassette = record_standin(Differences(queued=True), models=("gpt-image-2",))
    recorded = next(ex for ex in read_cassette(cassette).exchanges if ex.name == "create gpt-image-2")
    for strict in (False, True):
        client = replaying(cassette, strict=strict)
        task_id = client.post("/v1/predictions", json=recorded.request_body).json()["data"]["task_id"]
        for method, path, body in (
            ("POST", "/v1/predictions", recorded.request_body),
            ("GET", f"/v1/predictions/{task_id}", None),
            ("GET", "/v1/credits", None),
        ):
            bare = httpx2.request(method, f"{client.base_url}{path}", json=body, timeout=10)
            assert bare.status_code == 401, (strict, path, bare.text)
            assert "x-mock-replayed" not in bare.headers
            assert bare.json()["error"]["message"].startswith("Authorization: missing or empty API key")
        assert client.get(f"/v1/predictions/{task_id}").headers["x-mock-replayed"] == "1"  # with the key: replayed
    unmatched = httpx2.post(f"{client.base_url}/v1/predictions", json={"model": "nope"}, timeout=10)
    assert unmatched.status_code == 401  # strict: the key is checked before matching, as without --replay


def test_replayed_file_urls_are_signed_and_expire(record_standin, replaying) -> None:  # type: ignore[no-untyped-def]
    client = replaying(record_standin(Differences(), models=("gpt-image-2",)))
    task_id = client.post("/v1/predictions", json=example_body(load(), "gpt-image-2")).json()["data"]["task_id"]
    _advance(client, 20)
    url = client.get(f"/v1/predictions/{task_id}").json()["data"]["output"][0]["image"]
    assert "?e=" in url
    assert "&token=" in url
    assert client.get(url).status_code == 200
    unsigned = url.partition("?")[0]
    assert client.get(unsigned).status_code == 403
    tampered = client.get(url[:-2] + ("AA" if not url.endswith("AA") else "BB"))
    assert (tampered.status_code, tampered.json()["error"]["code"]) == (403, "403")
    _advance(client, 86_400 + 60)  # past url_ttl on the mock clock
    assert client.get(url).status_code == 403
    fresh = client.get(f"/v1/predictions/{task_id}").json()["data"]["output"][0]["image"]
    assert fresh == url  # the same URL on every poll, as for a simulated task: it does not renew itself


def test_a_replayed_task_is_invisible_to_another_key(record_standin, replaying) -> None:  # type: ignore[no-untyped-def]
    cassette = record_standin(Differences(), models=("gpt-image-2",))
    recorded = next(ex for ex in read_cassette(cassette).exchanges if ex.name == "create gpt-image-2")
    client = replaying(cassette)
    task_id = client.post("/v1/predictions", json=recorded.request_body).json()["data"]["task_id"]
    other = client.get(f"/v1/predictions/{task_id}", headers={"Authorization": "Bearer sk-someone-else"})
    assert (other.status_code, other.json()["error"]["type"]) == (404, "not_found")
    assert "x-mock-replayed" not in other.headers
    assert client.get(f"/v1/predictions/{task_id}").headers["x-mock-replayed"] == "1"  # its own key still sees it


def test_replayed_tasks_are_listed_and_shown_like_any_task(record_standin, replaying) -> None:  # type: ignore[no-untyped-def]
    cassette = record_standin(Differences(queued=True, slower=3.0), models=("gpt-image-2",))
    recorded = next(ex for ex in read_cassette(cassette).exchanges if ex.name == "create gpt-image-2")
    client = replaying(cassette)
    task_id = client.post("/v1/predictions", json=recorded.request_body).json()["data"]["task_id"]
    _advance(client, 1)
    (row,) = client.get("/_mock/tasks").json()["data"]
    assert (row["task_id"], row["key"], row["model"]) == (task_id, MASKED, "gpt-image-2")
    assert (row["task_status"], row["finished_at"]) == ("processing", None)  # the recorded `queued`, on the clock
    assert client.get("/_mock/tasks", params={"status": "success"}).json()["data"] == []
    _advance(client, 29)
    (row,) = client.get("/_mock/tasks", params={"status": "success", "key": MASKED}).json()["data"]
    assert row["task_id"] == task_id
    assert row["finished_at"] > row["created_at"]
    polled = client.get(f"/v1/predictions/{task_id}").json()
    detail = client.get(f"/_mock/tasks/{task_id}").json()
    assert detail["body"]["data"] == polled["data"]  # the recorded answer, as a poll gets it
    assert [o["kind"] for o in detail["outputs"]] == [o["type"] for o in polled["data"]["output"]]
    assert [e["task_status"] for e in detail["events"]] == ["processing", "success"]
    page = client.get("/_mock/inspector/tasks").json()
    assert [(r["task_id"], r["key"], r["task_status"]) for r in page["data"]] == [(task_id, MASKED, "success")]
    shown = client.get(f"/_mock/inspector/tasks/{task_id}").json()
    for path, body in (("/_mock/tasks/{task_id}", detail), ("/_mock/inspector/tasks", page)):
        check(path, "get", 200, body)  # as openapi/control.yaml documents them
    check("/_mock/inspector/tasks/{task_id}", "get", 200, shown)
    assert [o["url"] for o in shown["outputs"]] == [o["image"] for o in polled["data"]["output"]]
    assert client.get(shown["outputs"][0]["url"]).status_code == 200  # served from the replay
    cancel = client.post(f"/_mock/tasks/{task_id}/cancel")
    assert (cancel.status_code, cancel.json()["error"]["type"]) == (409, "conflict")
    client.post("/_mock/reset").raise_for_status()
    assert client.get("/_mock/tasks").json()["data"] == []  # reset forgets replayed tasks like any other
    assert client.get(f"/_mock/tasks/{task_id}").status_code == 404
