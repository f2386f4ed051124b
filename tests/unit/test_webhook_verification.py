"""contracts.webhooks: the receiver's pure checks (signature via standardwebhooks, body via the spec)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

import openapi
from contracts.webhooks import SignatureInvalid, payload_errors, verify_signature, webhook_body_pointer
from mock_server.webhooks.settings import DEV_SECRET
from mock_server.webhooks.signing import Signer, generate_secret

GOOD: dict[str, Any] = {"code": "0", "data": {"task_id": "a" * 32, "task_status": "success"}, "request_id": "b" * 32}
RAW = json.dumps(GOOD).encode()


def headers(body: bytes = RAW, secrets: tuple[str, ...] = (DEV_SECRET,), **kw: bool) -> dict[str, str]:
    return Signer(secrets).headers("msg_1", int(time.time()), body, **kw)


def test_valid_signature_passes() -> None:
    verify_signature(RAW, headers(), [DEV_SECRET])


def test_any_one_of_several_receiver_secrets_suffices() -> None:
    verify_signature(RAW, headers(), [generate_secret(b"retired"), DEV_SECRET])


# Headers are built when the test runs, not at collection: a slow suite would otherwise age them past the
# receiver's tolerance and every case would fail as "too old".
@pytest.mark.parametrize(
    ("body", "make_headers", "secrets", "reason"),
    [
        pytest.param(RAW + b" ", headers, [DEV_SECRET], "No matching signature", id="tampered-body"),
        pytest.param(RAW, headers, [generate_secret(b"x")], "No matching signature", id="wrong-secret"),
        pytest.param(RAW, lambda: headers(forged=True), [DEV_SECRET], "No matching signature", id="forged"),
        pytest.param(RAW, dict, [DEV_SECRET], "Missing required headers", id="unsigned"),
        pytest.param(
            RAW,
            lambda: {**headers(), "webhook-timestamp": str(int(time.time()) - 3600)},
            [DEV_SECRET],
            "too old",
            id="replayed",
        ),
        pytest.param(RAW, headers, [], "no secret", id="no-secret"),
    ],
)
def test_bad_signatures_are_rejected(
    body: bytes, make_headers: Callable[[], dict[str, str]], secrets: list[str], reason: str
) -> None:
    with pytest.raises(SignatureInvalid, match=reason):
        verify_signature(body, make_headers(), secrets)


def test_the_body_schema_comes_from_the_spec_webhook() -> None:
    pointer = webhook_body_pointer(openapi.load_spec())
    assert pointer.endswith("/post/requestBody/content/application~1json/schema")


def test_conforming_body_has_no_errors() -> None:
    assert payload_errors(GOOD) == []
    assert payload_errors(RAW) == []


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        pytest.param({**GOOD, "data": {"task_id": "a" * 32}}, "$.data", id="no-status"),
        pytest.param({**GOOD, "data": {**GOOD["data"], "task_status": "done"}}, "$.data.task_status", id="bad-status"),
        pytest.param({"data": GOOD["data"], "request_id": "b" * 32}, "$", id="no-code"),
        pytest.param(b"{not json", "$", id="not-json"),
    ],
)
def test_nonconforming_bodies_name_the_json_path(payload: object, path: str) -> None:
    errors = payload_errors(payload)
    assert errors
    assert any(e.startswith(f"{path}:") for e in errors), errors
