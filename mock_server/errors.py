"""Errors of the mock. API-visible errors know their HTTP status and envelope `type`.

MockServerError
├── SettingsError            bad configuration; raised when the app is created, never on a request
├── InvalidTransition        a status change the lifecycle table forbids
└── ApiError                 rendered as {"error": {"code": "<status>", "type": ..., "message": ...}}
    ├── InvalidParams        400 invalid_params
    │   └── UnsupportedMediaType   a body that is not JSON (400: the spec documents no 415)
    ├── AccessDenied         401 access_denied (403 when configured, DECISIONS 9)
    ├── InsufficientCredit   402 insufficient_credit
    ├── Forbidden            403 access_denied (tampered or expired file URLs, control surface)
    ├── NotFound             404 not_found
    ├── MethodNotAllowed     405 method_not_allowed
    ├── Conflict             409 conflict
    ├── PayloadTooLarge      413 invalid_params (body or prompt too long, DECISIONS 11)
    ├── MisdirectedRequest   421 access_denied (a Host the mock does not answer to: DNS rebinding)
    ├── RateLimited          429 rate_limit, with Retry-After
    ├── InjectedError        any status and type a rule or X-Mock-Error asked for
    ├── InternalError        500 internal_server_error
    └── StoreUnavailable     503 internal_server_error, with Retry-After: the store is unreachable (Redis) or failing
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

__all__ = [
    "AccessDenied",
    "ApiError",
    "Conflict",
    "Forbidden",
    "InjectedError",
    "InsufficientCredit",
    "InternalError",
    "InvalidParams",
    "InvalidTransition",
    "MethodNotAllowed",
    "MisdirectedRequest",
    "MockServerError",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "SettingsError",
    "StoreUnavailable",
    "UnsupportedMediaType",
]


class MockServerError(Exception):
    """Root of every error the mock raises on purpose."""


class SettingsError(MockServerError):
    """A setting or config file is invalid; raised at startup."""


class InvalidTransition(MockServerError):
    """The lifecycle table forbids this status change."""


class ApiError(MockServerError):
    """An error the API answers with, in the documented envelope."""

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "internal_server_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status if status is not None else self.status_code
        self.type = type if type is not None else self.error_type
        self.headers: dict[str, str] = dict(headers or {})


class InvalidParams(ApiError):
    """The request body or a parameter breaks the spec (400)."""

    status_code = 400
    error_type = "invalid_params"


class AccessDenied(ApiError):
    """Missing, empty or unknown API key (401 by default, 403 when configured)."""

    status_code = 401
    error_type = "access_denied"


class InsufficientCredit(ApiError):
    """The key's balance is exhausted (402)."""

    status_code = 402
    error_type = "insufficient_credit"


class Forbidden(ApiError):
    """A valid request for something this caller may not have (403)."""

    status_code = 403
    error_type = "access_denied"


class NotFound(ApiError):
    """No such route or task for this key (404)."""

    status_code = 404
    error_type = "not_found"


class MethodNotAllowed(ApiError):
    """The route exists but not for this method (405)."""

    status_code = 405
    error_type = "method_not_allowed"


class Conflict(ApiError):
    """The request is valid but the task's state forbids it (409)."""

    status_code = 409
    error_type = "conflict"


class PayloadTooLarge(ApiError):
    """The body or the prompt is too long (413)."""

    status_code = 413
    error_type = "invalid_params"


class MisdirectedRequest(ApiError):
    """The Host header names neither loopback nor a configured host (421)."""

    status_code = 421
    error_type = "access_denied"


class UnsupportedMediaType(InvalidParams):
    """The Content-Type is not JSON: 400, since the spec documents no 415 for createPrediction."""


class RateLimited(ApiError):
    """Too many requests for this key (429, with Retry-After)."""

    status_code = 429
    error_type = "rate_limit"


class InjectedError(ApiError):
    """An error a rule or an X-Mock-Error header asked for."""


class InternalError(ApiError):
    """Something broke inside the mock (500); the journal keeps the traceback."""


class StoreUnavailable(ApiError):
    """The store refused, closed or did not answer within its timeout (503; the mock's own, docs/running.md).

    The spec documents no 503 for these operations; `internal_server_error` is the type it gives a platform error.
    """

    status_code = 503
    error_type = "internal_server_error"

    def __init__(self, store: str, reason: str) -> None:
        super().__init__(
            f"store: {store} is unreachable ({reason}); the mock answers again when it is back, no restart needed",
            headers={"Retry-After": "1"},
        )
        self.store = store
        self.reason = reason
