from __future__ import annotations

import pytest

import openapi
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


def _documented_types() -> dict[int, list[str]]:
    """status -> the `error.type` values that openapi/predictions.yaml pins in components.responses."""
    out: dict[int, list[str]] = {}
    for response in openapi.load_spec()["components"]["responses"].values():
        for part in response["content"]["application/json"]["schema"].get("allOf", []):
            error = part.get("properties", {}).get("error", {}).get("properties", {})
            if "code" in error:
                out[int(error["code"]["const"])] = error["type"]["enum"]
    return out


def test_every_documented_status_uses_a_documented_type() -> None:
    documented = _documented_types()
    assert {400, 401, 402, 403, 404, 413, 429, 500} <= set(documented)
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.ApiError)]
    checked = [c for c in classes if c.status_code in documented and c is not errors.ApiError]
    assert len(checked) >= 8
    for cls in checked:
        assert cls.error_type in documented[cls.status_code], cls


def test_an_unreachable_store_is_a_503_typed_as_the_platform_error_the_spec_documents() -> None:
    documented = _documented_types()
    assert 503 not in documented  # the mock's own answer (docs/running.md); a documented 503 would name its type
    exc = errors.StoreUnavailable("redis://127.0.0.1:6379/0", "Connection refused")
    assert (exc.status, exc.type, exc.headers) == (503, documented[500][0], {"Retry-After": "1"})
    assert exc.message.startswith("store: redis://127.0.0.1:6379/0 is unreachable (Connection refused); ")
