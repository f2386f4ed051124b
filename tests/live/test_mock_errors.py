"""Error paths over a real socket: forced failure, 403 mode, 402, 429 and every bad-input case."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx2
import pytest

from mock_server.app import create_app
from mock_server.clock import FakeClock
from mock_server.settings import RateLimit, Settings
from mock_server.testing import serve_in_thread

BODY = {"model": "qwen3-tts-flash", "function": "audio", "input": {"prompt": "Hello", "voice": "Cherry"}}
JSON = {"Authorization": "Bearer sk-a", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx2.Client]:
    settings = Settings(
        seed=2,
        auth_error_status=403,
        balances={"sk-poor": 0.0},
        rate_limits={"sk-busy": RateLimit(1, 60.0)},
        max_body_bytes=4096,
    )
    app = create_app(settings, clock=FakeClock(1_800_000_000.0))
    with serve_in_thread(app) as live, httpx2.Client(base_url=live.base_url, timeout=10) as client:
        yield client
    app.state.mock.journal.check()


def envelope(response: httpx2.Response, status: int, error_type: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["type"]) == (str(status), error_type)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-shuyou-requestid"])
    message: str = error["message"]
    return message


def test_forced_failure_over_the_wire(http: httpx2.Client) -> None:
    created = http.post("/v1/predictions", json=BODY, headers={**JSON, "X-Mock-Outcome": "failed"})
    http.post("/_mock/clock/advance", json={"seconds": 10})
    data = http.get(f"/v1/predictions/{created.json()['data']['task_id']}", headers=JSON).json()["data"]
    assert data["task_status"] == "failed"
    assert data["error"]["code"]


def test_403_mode_for_a_missing_key(http: httpx2.Client) -> None:
    assert "missing or empty API key" in envelope(http.get("/v1/credits"), 403, "access_denied")


def test_402_when_the_balance_is_spent(http: httpx2.Client) -> None:
    response = http.post("/v1/predictions", json=BODY, headers={**JSON, "Authorization": "Bearer sk-poor"})
    envelope(response, 402, "insufficient_credit")


def test_429_with_retry_after(http: httpx2.Client) -> None:
    busy = {"Authorization": "Bearer sk-busy"}
    assert http.get("/v1/credits", headers=busy).status_code == 200
    response = http.get("/v1/credits", headers=busy)
    envelope(response, 429, "rate_limit")
    assert response.headers["retry-after"] == "60"


@pytest.mark.parametrize(
    ("content", "headers", "status", "fragment"),
    [
        pytest.param(b"", JSON, 400, "empty", id="empty"),
        pytest.param(b'{"model":', JSON, 400, "malformed JSON", id="malformed"),
        pytest.param(b'{"model": "\xc3\x28"}', JSON, 400, "not valid UTF-8", id="non-utf8"),
        pytest.param(b"[" * 100 + b"]" * 100, JSON, 400, "nested deeper", id="deep"),
        pytest.param(b"{}", {**JSON, "Content-Type": "text/csv"}, 400, "Content-Type", id="content-type"),
        pytest.param(b"{" + b" " * 5000 + b"}", JSON, 413, "over the limit", id="too-large"),
        pytest.param(
            b'{"model":"qwen3-tts-flash","function":"audio","input":{}}', JSON, 400, "input.prompt", id="field"
        ),
    ],
)
def test_bad_input_over_the_wire(
    http: httpx2.Client, content: bytes, headers: dict[str, str], status: int, fragment: str
) -> None:
    message = envelope(http.post("/v1/predictions", content=content, headers=headers), status, "invalid_params")
    assert fragment in message


def test_unknown_route_and_wrong_method(http: httpx2.Client) -> None:
    envelope(http.get("/v9/nothing"), 404, "not_found")
    envelope(http.delete("/v1/predictions"), 405, "method_not_allowed")
