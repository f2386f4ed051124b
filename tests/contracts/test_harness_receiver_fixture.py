from __future__ import annotations

from collections.abc import Callable

import httpx2

from contracts.receiver import WebhookReceiver

pytest_plugins = ["pytester"]


def test_webhook_receiver_records_what_it_gets(webhook_receiver: WebhookReceiver) -> None:
    httpx2.post(webhook_receiver.url, content=b"{}", headers={"content-type": "application/json"})

    assert len(webhook_receiver.wait_for(1)) == 1


def test_the_factory_passes_secrets_and_behaviour(webhook_receiver_factory: Callable[..., WebhookReceiver]) -> None:
    receiver = webhook_receiver_factory(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], status=202)

    answer = httpx2.post(receiver.url, content=b"{}", headers={"content-type": "application/json"})

    assert answer.status_code == 401  # unsigned: rejected because a secret was given
    assert receiver.deliveries()[0]["verified"] is False
