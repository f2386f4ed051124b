"""A small client of the ShuYou AI Predictions API, written the way an application would write it.

It knows only the documented API (docs.shuyou.ai): `POST /v1/predictions`, `GET /v1/predictions/{id}`,
`GET /v1/credits`, the `{"error": {"code", "type", "message"}}` envelope, and the advice to retry 429 and
5xx with exponential backoff and jitter (1 s, 2 s, 4 s, 8 s). Nothing in it is specific to the mock:
point `base_url` at `https://api.shuyou.ai` and it works the same.

    with ShuYouClient(api_key) as client:
        prediction = client.run("gpt-image-2", "image", {"prompt": "a lighthouse at dusk"})
        client.download(prediction, Path("out"))

Time is injected (`sleep`, `clock`), so a test can make waiting free: see `examples/tests/`.
"""

from __future__ import annotations

import email.utils
import mimetypes
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2

__all__ = [
    "DEFAULT_BASE_URL",
    "ApiError",
    "Credits",
    "InsufficientCredit",
    "Output",
    "Prediction",
    "RateLimited",
    "ResultExpired",
    "ShuYouClient",
    "TaskFailed",
    "TaskTimeout",
    "Usage",
]

DEFAULT_BASE_URL = "https://api.shuyou.ai"
RETRYABLE = frozenset({429, 500, 502, 503, 504})  # the error guide: retry these, never 400/402/403/404/413/422
SUCCESS = "success"
FAILED = frozenset({"failed", "cancelled", "canceled"})  # `cancelled` is implied by the docs, spelling unknown


# -- errors ------------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer of the API, in the documented envelope (branch on `type`, show `message`)."""

    def __init__(self, status: int, type: str, message: str, request_id: str | None = None) -> None:
        super().__init__(f"HTTP {status} {type}: {message}")
        self.status = status
        self.type = type
        self.message = message
        self.request_id = request_id


class InsufficientCredit(ApiError):
    """402: the account has no balance left (`insufficient_credit`, `reject_no_credit`, `quote_exceeded`)."""


class RateLimited(ApiError):
    """429 that was still answered after every retry; `retry_after` is the server's last hint (seconds)."""

    def __init__(self, status: int, type: str, message: str, request_id: str | None, retry_after: float | None):
        super().__init__(status, type, message, request_id)
        self.retry_after = retry_after


class TaskFailed(Exception):
    """The task ended `failed` (or `cancelled`); `prediction.error_code` and `error_message` say why."""

    def __init__(self, prediction: Prediction) -> None:
        super().__init__(
            f"task {prediction.task_id} ended {prediction.status}: {prediction.error_code}: {prediction.error_message}"
        )
        self.prediction = prediction


class TaskTimeout(Exception):
    """The task was still processing when `wait()` gave up."""

    def __init__(self, task_id: str, waited: float) -> None:
        super().__init__(f"task {task_id} still processing after {waited:g} s")
        self.task_id = task_id
        self.waited = waited


class ResultExpired(Exception):
    """A result URL answered 403: its `e=` expiry passed (results are kept about 24 h) or it was altered."""


# -- values ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    upstream_cost: float
    discount: float
    discount_percent: float
    cost: float


@dataclass(frozen=True, slots=True)
class Output:
    type: str  # image | video | audio
    url: str


@dataclass(frozen=True, slots=True)
class Prediction:
    task_id: str
    status: str
    outputs: tuple[Output, ...] = ()
    usage: Usage | None = None
    error_code: str | None = None
    error_message: str | None = None
    request_id: str | None = None

    @property
    def done(self) -> bool:
        return self.status == SUCCESS or self.status in FAILED

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Prediction:
        """Parse a Get Prediction body (also what a webhook delivers)."""
        data = body["data"]
        outputs = tuple(
            Output(item["type"], item.get(item["type"]) or item.get("url", "")) for item in data.get("output") or ()
        )
        usage = body.get("usage")
        error = data.get("error") or {}
        return cls(
            task_id=data["task_id"],
            status=data["task_status"],
            outputs=outputs,
            usage=Usage(**{k: float(usage[k]) for k in ("upstream_cost", "discount", "discount_percent", "cost")})
            if usage
            else None,
            error_code=error.get("code"),
            error_message=error.get("message"),
            request_id=body.get("request_id"),
        )


@dataclass(frozen=True, slots=True)
class Credits:
    total_credits: float
    total_usage: float
    balance: float


# -- the client ----------------------------------------------------------------------------------------------


class ShuYouClient:
    """Create predictions, wait for them, download their outputs; retries 429 and 5xx by itself."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        http: httpx2.Client | None = None,
    ) -> None:
        self._key = api_key
        self._base = base_url.rstrip("/")
        self._retries = max_retries
        self._backoff = backoff
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._http = http or httpx2.Client(timeout=timeout)

    def __enter__(self) -> ShuYouClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- the three endpoints ---------------------------------------------------------------------------------
    def create(self, model: str, function: str, input: Mapping[str, Any], *, webhook: str | None = None) -> str:
        """Start a task; returns its `task_id`."""
        body: dict[str, Any] = {"model": model, "function": function, "input": dict(input)}
        if webhook is not None:
            body["webhook"] = webhook
        return str(self._call("POST", "/v1/predictions", body)["data"]["task_id"])

    def get(self, task_id: str) -> Prediction:
        return Prediction.from_body(self._call("GET", f"/v1/predictions/{task_id}"))

    def credits(self) -> Credits:
        data = self._call("GET", "/v1/credits")["data"]
        return Credits(float(data["total_credits"]), float(data["total_usage"]), float(data["balance"]))

    # -- waiting -----------------------------------------------------------------------------------------------
    def wait(
        self, task_id: str, *, timeout: float = 600.0, interval: float = 2.0, max_interval: float = 15.0
    ) -> Prediction:
        """Poll until the task is done; raise `TaskFailed` or `TaskTimeout`. The interval doubles up to a cap."""
        start = self._clock()
        while True:
            prediction = self.get(task_id)
            if prediction.status == SUCCESS:
                return prediction
            if prediction.status in FAILED:
                raise TaskFailed(prediction)
            waited = self._clock() - start
            if waited >= timeout:
                raise TaskTimeout(task_id, waited)
            self._sleep(min(interval, timeout - waited))
            interval = min(interval * 2, max_interval)

    def run(self, model: str, function: str, input: Mapping[str, Any], *, timeout: float = 600.0) -> Prediction:
        """`create` then `wait`."""
        return self.wait(self.create(model, function, input), timeout=timeout)

    # -- results -----------------------------------------------------------------------------------------------
    def download(self, prediction: Prediction, directory: Path) -> list[Path]:
        """Save every output as `<task_id>-<n>.<ext>` in `directory`; raise `ResultExpired` on a 403."""
        directory.mkdir(parents=True, exist_ok=True)
        saved: list[Path] = []
        for n, output in enumerate(prediction.outputs):
            # Result URLs are pre-signed (e=, token=): no Authorization header, the key must not leak to a CDN.
            response = self._http.get(output.url)
            if response.status_code == 403:
                raise ResultExpired(f"{output.url}: 403, the result URL expired or is invalid; create the task again")
            response.raise_for_status()
            path = directory / f"{prediction.task_id}-{n}{_extension(output.url, response)}"
            path.write_bytes(response.content)
            saved.append(path)
        return saved

    # -- transport -------------------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._key}"}
        attempt = 0
        while True:
            response = self._http.request(method, self._base + path, json=body, headers=headers)
            if response.status_code < 400:
                result: dict[str, Any] = response.json()
                return result
            if response.status_code not in RETRYABLE or attempt >= self._retries:
                raise _error(response)
            self._sleep(self._delay(attempt, response))
            attempt += 1

    def _delay(self, attempt: int, response: httpx2.Response) -> float:
        hint = _retry_after(response)
        if hint is not None:
            return hint
        return float(self._backoff * 2**attempt * self._rng.uniform(0.5, 1.0))  # exponential backoff with jitter


def _retry_after(response: httpx2.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(raw)  # the HTTP-date form
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _error(response: httpx2.Response) -> ApiError:
    try:
        error = response.json()["error"]
        kind, message = str(error["type"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        kind, message = "unknown", response.text[:200]
    request_id = response.headers.get("x-shuyou-requestid")
    status = response.status_code
    if status == 402:
        return InsufficientCredit(status, kind, message, request_id)
    if status == 429:
        return RateLimited(status, kind, message, request_id, _retry_after(response))
    return ApiError(status, kind, message, request_id)


def _extension(url: str, response: httpx2.Response) -> str:
    suffix = Path(urlsplit(url).path).suffix
    if suffix:
        return suffix
    guessed = mimetypes.guess_extension(response.headers.get("content-type", "").split(";")[0].strip())
    return guessed or ".bin"
