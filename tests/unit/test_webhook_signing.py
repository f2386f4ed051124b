from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from mock_server.errors import SettingsError
from mock_server.webhooks.settings import DEV_SECRET, check_secret
from mock_server.webhooks.signing import Signer, generate_secret

BODY = b'{"code":"0","data":{"task_id":"ab","task_status":"success"}}'
OLD = generate_secret(b"old")
NEW = generate_secret(b"new")


def _verify(secret: str, headers: dict[str, str], body: bytes = BODY) -> None:
    Webhook(secret).verify(body.decode(), headers, json_parse=False)


def test_signature_verifies_with_standardwebhooks() -> None:
    headers = Signer([DEV_SECRET]).headers("msg_1", int(time.time()), BODY)
    _verify(DEV_SECRET, headers)
    assert headers["webhook-id"] == "msg_1"
    assert headers["content-type"] == "application/json"


def test_signature_is_hmac_sha256_over_id_timestamp_body() -> None:
    key = base64.b64decode(DEV_SECRET.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, b"msg_1.1700000000." + BODY, hashlib.sha256).digest()).decode()
    assert Signer([DEV_SECRET]).signature("msg_1", 1_700_000_000, BODY) == f"v1,{expected}"


def test_rotation_signs_once_per_secret_and_either_secret_verifies() -> None:
    headers = Signer([OLD, NEW]).headers("msg_2", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    _verify(OLD, headers)
    _verify(NEW, headers)
    with pytest.raises(WebhookVerificationError):
        _verify(generate_secret(b"other"), headers)


def test_tampered_body_does_not_verify() -> None:
    headers = Signer([DEV_SECRET]).headers("msg_3", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        _verify(DEV_SECRET, headers, BODY.replace(b"success", b"failed!"))


def test_forged_signature_does_not_verify_with_any_active_secret() -> None:
    headers = Signer([OLD, NEW]).headers("msg_4", int(time.time()), BODY, forged=True)
    for secret in (OLD, NEW):
        with pytest.raises(WebhookVerificationError):
            _verify(secret, headers)


def test_timestamp_header_is_the_given_unix_second() -> None:
    when = int(datetime(2026, 11, 26, tzinfo=UTC).timestamp())
    assert Signer([DEV_SECRET]).headers("m", when, BODY)["webhook-timestamp"] == str(when)


@pytest.mark.parametrize(
    "secret",
    [pytest.param("abc", id="no-prefix"), pytest.param("whsec_", id="empty"), pytest.param("whsec_YWJj", id="short")],
)
def test_bad_secret_fails_with_settings_error(secret: str) -> None:
    with pytest.raises(SettingsError, match="whsec_"):
        check_secret(secret)


def test_dev_secret_is_documented_and_valid() -> None:
    assert check_secret(DEV_SECRET) == DEV_SECRET
    assert base64.b64decode(DEV_SECRET.removeprefix("whsec_")) == b"shuyou-mock-dev-webhook-secret!!"
