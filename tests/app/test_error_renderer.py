"""The one error renderer: every error in the envelope, every 429 with Retry-After (DECISIONS 14)."""

from __future__ import annotations

import json

import pytest

from mock_server.errors import ApiError, InvalidParams, RateLimited
from mock_server.responses import error_response


@pytest.mark.parametrize(
    ("error", "retry_after"),
    [
        pytest.param(ApiError("busy", status=429, type="rate_limit"), "1", id="any-429-gets-one"),
        pytest.param(RateLimited("slow down", headers={"Retry-After": "7"}), "7", id="its-own-is-kept"),
        pytest.param(InvalidParams("input.prompt: is required"), None, id="not-on-other-statuses"),
    ],
)
def test_error_response_is_the_envelope_and_429_carries_retry_after(error: ApiError, retry_after: str | None) -> None:
    response = error_response(error)
    assert json.loads(response.body)["error"]["code"] == str(error.status)
    assert response.headers.get("retry-after") == retry_after
