"""The example webhook handler against the mock's real deliveries: verify, de-duplicate, agree with polling.

`mock_webhook_receiver` is a real HTTP receiver on loopback that records what the mock sent; each test
replays those recorded requests into `WebhookInbox.handle()`, exactly as a web framework would.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from shuyou_client import ShuYouClient
from webhook_inbox import InvalidWebhook, WebhookInbox

from mock_server.pytest_plugin import MockServer

PROMPT = {"prompt": "a lighthouse at dusk"}
OTHER_SECRET = "whsec_bm90LXRoZS1tb2NrLXNlY3JldC1hdC1hbGwhIQ=="


def replay(inbox: WebhookInbox, delivery: dict[str, Any]) -> Any:
    return inbox.handle(delivery["raw"].encode(), delivery["headers"])


def test_webhook_verifies_and_matches_polling(
    client: ShuYouClient, mock_server: MockServer, mock_webhook_receiver: Any
) -> None:
    inbox = WebhookInbox(mock_server.webhook_secrets)
    task_id = client.create("qwen3-tts-flash", "audio", PROMPT, webhook=mock_webhook_receiver.url)
    mock_server.advance(60)
    (delivery,) = mock_webhook_receiver.wait_for(1)
    prediction = replay(inbox, delivery)
    assert prediction is not None
    assert prediction.task_id == task_id
    assert prediction.status == "success"
    polled = client.get(task_id)
    assert (prediction.status, prediction.outputs, prediction.usage) == (polled.status, polled.outputs, polled.usage)
    assert inbox.result(task_id) == prediction


def test_tampered_body_or_wrong_secret_is_rejected(
    client: ShuYouClient, mock_server: MockServer, mock_webhook_receiver: Any
) -> None:
    client.create("gpt-image-2", "image", PROMPT, webhook=mock_webhook_receiver.url)
    mock_server.advance(60)
    (delivery,) = mock_webhook_receiver.wait_for(1)
    tampered = delivery["raw"].replace('"success"', '"failed"').encode()
    with pytest.raises(InvalidWebhook):
        WebhookInbox(mock_server.webhook_secrets).handle(tampered, delivery["headers"])
    with pytest.raises(InvalidWebhook):
        replay(WebhookInbox(OTHER_SECRET), delivery)


@pytest.mark.mock_rules({"match": {"model": "gpt-image-2"}, "webhook_chaos": {"duplicate": 1.0}})  # per task
def test_duplicate_delivery_is_processed_once(
    client: ShuYouClient, mock_server: MockServer, mock_webhook_receiver: Any
) -> None:
    inbox = WebhookInbox(mock_server.webhook_secrets)
    client.create("gpt-image-2", "image", PROMPT, webhook=mock_webhook_receiver.url)
    mock_server.advance(60)
    first, second = mock_webhook_receiver.wait_for(2)
    assert first["webhook_id"] == second["webhook_id"]
    assert replay(inbox, first) is not None
    assert replay(inbox, second) is None
    assert inbox.duplicates == 1


@pytest.mark.mock_settings(webhooks={"chaos": {"bad_signature": 1.0}})  # for the whole (dedicated) mock
def test_bad_signature_is_refused_and_the_retry_accepted(
    client: ShuYouClient, mock_server: MockServer, mock_webhook_receiver: Any
) -> None:
    inbox = WebhookInbox(mock_server.webhook_secrets)
    task_id = client.create("gpt-image-2", "image", PROMPT, webhook=mock_webhook_receiver.url)
    mock_server.advance(60)
    (bad,) = mock_webhook_receiver.wait_for(1)
    with pytest.raises(InvalidWebhook):
        replay(inbox, bad)  # the receiver answered 401 too, so the mock retries
    mock_server.control.wait_for_attempts(1, task_id=task_id)  # the mock has seen the 401 and planned a retry
    mock_server.advance(60)  # past the retry backoff, on the mock clock
    bad, good = mock_webhook_receiver.wait_for(2)
    assert good["webhook_id"] == bad["webhook_id"]
    prediction = replay(inbox, good)
    assert prediction is not None
    assert prediction.task_id == task_id
    (journaled,) = mock_server.control.wait_for_webhooks(1, task_id=task_id)
    assert [a.status_code for a in journaled.attempts] == [401, 200]


def test_waiting_by_webhook_returns_when_the_handler_records_the_task(
    client: ShuYouClient, mock_server: MockServer, mock_webhook_receiver: Any
) -> None:
    inbox = WebhookInbox(mock_server.webhook_secrets)
    task_id = client.create("gpt-image-2", "image", PROMPT, webhook=mock_webhook_receiver.url)
    mock_server.advance(60)
    (delivery,) = mock_webhook_receiver.wait_for(1)
    # The web framework's thread hands the delivery to the inbox while the worker waits on it.
    web_thread = threading.Thread(target=replay, args=(inbox, delivery))
    web_thread.start()
    prediction = inbox.wait(task_id, timeout=5)
    web_thread.join()
    assert prediction is not None
    assert prediction.status == "success"
