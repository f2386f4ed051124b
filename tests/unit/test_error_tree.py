from __future__ import annotations

import pytest

from mock_server import errors


@pytest.mark.parametrize(
    ("cls", "status", "error_type"),
    [
        (errors.InvalidParams, 400, "invalid_params"),
        (errors.UnsupportedMediaType, 400, "invalid_params"),
        (errors.AccessDenied, 401, "access_denied"),
        (errors.InsufficientCredit, 402, "insufficient_credit"),
        (errors.Forbidden, 403, "access_denied"),
        (errors.NotFound, 404, "not_found"),
        (errors.MethodNotAllowed, 405, "method_not_allowed"),
        (errors.Conflict, 409, "conflict"),
        (errors.PayloadTooLarge, 413, "invalid_params"),
        (errors.RateLimited, 429, "rate_limit"),
        (errors.InternalError, 500, "internal_server_error"),
    ],
)
def test_api_errors_know_status_and_type(cls: type[errors.ApiError], status: int, error_type: str) -> None:
    exc = cls("m")
    assert (exc.status, exc.type, exc.message) == (status, error_type, "m")
    assert isinstance(exc, errors.MockServerError)


def test_instance_overrides_status_and_headers() -> None:
    exc = errors.AccessDenied("m", status=403, headers={"X": "1"})
    assert (exc.status, exc.type, exc.headers) == (403, "access_denied", {"X": "1"})


def test_tree_is_drawn_in_the_docstring() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert name in doc, name
