"""The example client against the mock, polling: the cases a client has to get right.

Nothing here sleeps: the client's `sleep` advances the mock clock (see conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from shuyou_client import ApiError, InsufficientCredit, ResultExpired, ShuYouClient, TaskFailed, TaskTimeout

from mock_server.pytest_plugin import MockServer

PROMPT = {"prompt": "a lighthouse at dusk"}


def test_success_downloads_real_images(client: ShuYouClient, tmp_path: Path) -> None:
    prediction = client.run("gpt-image-2", "image", {**PROMPT, "n": 2})
    assert prediction.status == "success"
    assert prediction.usage is not None
    assert prediction.usage.cost == pytest.approx(prediction.usage.upstream_cost * prediction.usage.discount_percent)
    paths = client.download(prediction, tmp_path)
    assert len(paths) == 2
    with Image.open(paths[0]) as image:
        assert image.format == "PNG"


@pytest.mark.mock_outcome("failed", failure={"code": "content_policy", "message": "blocked by the mock"})
def test_failed_task_raises_with_the_reason(client: ShuYouClient) -> None:
    with pytest.raises(TaskFailed) as caught:
        client.run("gpt-image-2", "image", PROMPT)
    assert caught.value.prediction.status == "failed"
    assert caught.value.prediction.error_code == "content_policy"
    assert caught.value.prediction.outputs == ()


@pytest.mark.mock_outcome("success", duration=3600, model="veo-3.1-generate-preview")
def test_still_processing_at_the_deadline_times_out(client: ShuYouClient, mock_server: MockServer) -> None:
    task_id = client.create("veo-3.1-generate-preview", "video", {"prompt": "a slow pan"})
    with pytest.raises(TaskTimeout):
        client.wait(task_id, timeout=300)
    assert mock_server.control.task(task_id).task_status == "processing"
    mock_server.advance(3600)
    assert client.wait(task_id).status == "success"  # the same task finishes later


@pytest.mark.mock_settings(balances={"sk-test": 0})
def test_no_credit_is_402_and_not_retried(client: ShuYouClient, mock_server: MockServer) -> None:
    with pytest.raises(InsufficientCredit) as caught:
        client.create("gpt-image-2", "image", PROMPT)
    assert caught.value.type == "insufficient_credit"
    assert len(mock_server.control.requests(path="/v1/predictions")) == 1


@pytest.mark.mock_settings(rate_limit={"requests": 1, "per_seconds": 10})
def test_429_is_retried_after_retry_after(client: ShuYouClient, mock_server: MockServer) -> None:
    first = client.create("gpt-image-2", "image", PROMPT)
    before = mock_server.clock.now()
    second = client.create("gpt-image-2", "image", PROMPT)  # 429, Retry-After: 10, then accepted
    assert first != second
    assert mock_server.clock.now() - before == pytest.approx(10)
    statuses = [r.status for r in reversed(mock_server.control.requests(path="/v1/predictions"))]
    assert statuses == [200, 429, 200]


def test_result_urls_expire_after_a_day(client: ShuYouClient, mock_server: MockServer, tmp_path: Path) -> None:
    prediction = client.run("gpt-image-2", "image", PROMPT)
    mock_server.advance(24 * 3600 + 60)
    with pytest.raises(ResultExpired):
        client.download(prediction, tmp_path)


def test_credits_add_up(client: ShuYouClient) -> None:
    before = client.credits()
    prediction = client.run("gpt-image-2", "image", PROMPT)
    after = client.credits()
    assert prediction.usage is not None
    assert after.total_usage - before.total_usage == pytest.approx(prediction.usage.cost)
    assert after.balance == pytest.approx(after.total_credits - after.total_usage)


@pytest.mark.mock_seed(1)  # with this seed the injected error hits the first attempt only
@pytest.mark.mock_rules({"match": {"model": "gpt-image-2"}, "error": {"status": 503, "rate": 0.5}})
def test_5xx_is_retried_with_backoff(client: ShuYouClient, mock_server: MockServer) -> None:
    start = mock_server.clock.now()
    client.create("gpt-image-2", "image", PROMPT)
    statuses = [r.status for r in reversed(mock_server.control.requests(path="/v1/predictions"))]
    assert statuses == [503, 200]
    assert 0.5 <= mock_server.clock.now() - start <= 1.0  # backoff 1 s x jitter in [0.5, 1], on the mock clock


def test_bad_request_is_not_retried(client: ShuYouClient, mock_server: MockServer) -> None:
    with pytest.raises(ApiError) as caught:
        client.create("no-such-model", "image", PROMPT)
    assert (caught.value.status, caught.value.type) == (400, "invalid_params")
    assert "model" in caught.value.message
    assert len(mock_server.control.requests(path="/v1/predictions")) == 1
