"""A typed client of the mock's control surface `/_mock/...`, and the records it returns.

Works over any `httpx2.Client` whose `base_url` is a mock: a socket client or Starlette's `TestClient`.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx2

__all__ = ["MockAttempt", "MockControl", "MockDelivery", "MockRequest", "MockTask"]


@dataclass(frozen=True, slots=True)
class MockTask:
    """A task as `GET /_mock/tasks` shows it; `events` and `body` are filled by `MockControl.task()`."""

    task_id: str
    key: str
    model: str
    function: str
    task_status: str
    created_at: float
    due_at: float
    finished_at: float | None
    webhook: str | None
    events: tuple[tuple[float, str], ...] = ()
    body: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MockTask:
        names = {f.name for f in dataclasses.fields(cls)} - {"events", "body"}
        events = tuple((float(e["time"]), str(e["task_status"])) for e in data.get("events", ()))
        return cls(**{k: data[k] for k in names}, events=events, body=data.get("body") or {})


@dataclass(frozen=True, slots=True)
class MockAttempt:
    number: int
    at: float
    status_code: int | None
    error: str | None
    signature: str
    duplicate: bool


@dataclass(frozen=True, slots=True)
class MockDelivery:
    """One webhook message (one `webhook-id`) and its attempts, from `GET /_mock/webhooks`."""

    delivery_id: str
    task_id: str
    event: str
    url: str
    status: str  # pending | delivered | exhausted | gone | blocked
    attempts: tuple[MockAttempt, ...]
    chaos: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MockDelivery:
        attempts = tuple(
            MockAttempt(
                a["number"], a["at"], a.get("status_code"), a.get("error"), a.get("signature", "valid"), a["duplicate"]
            )
            for a in data.get("attempts", ())
        )
        return cls(
            data["delivery_id"], data["task_id"], data["event"], data["url"], data["status"], attempts,
            tuple(data.get("chaos", ())),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class MockRequest:
    """One entry of the request journal (`GET /_mock/requests`)."""

    method: str
    path: str
    status: int
    key: str | None
    task_id: str | None
    error_type: str | None
    time: float

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MockRequest:
        return cls(
            method=str(data["method"]),
            path=str(data["path"]),
            status=int(data["status"]),
            key=data.get("key"),
            task_id=data.get("task_id"),
            error_type=data.get("error_type"),
            time=float(data["time"]),
        )


class MockControl:
    """A typed client of the control surface `/_mock/...` over any `httpx2.Client` (socket or in-process)."""

    def __init__(self, http: httpx2.Client) -> None:
        self._http = http

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json()

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_mock/health")
        return result

    def now(self) -> float:
        """The mock clock, unix seconds."""
        return float(self._call("GET", "/_mock/clock")["now"])

    def advance(self, seconds: float) -> float:
        """Move the mock clock forward; due tasks settle and due webhooks start before this returns."""
        return float(self._call("POST", "/_mock/clock/advance", json={"seconds": seconds})["now"])

    def reset(self) -> None:
        """Forget every task, usage, rule set at runtime, journal entry and webhook delivery."""
        self._call("POST", "/_mock/reset")

    def rules(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/_mock/rules")["rules"])

    def set_rules(self, rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Replace the runtime rules (config-file form, e.g. `{"match": {"model": "x"}, "outcome": "failed"}`)."""
        return list(self._call("PUT", "/_mock/rules", json={"rules": [dict(r) for r in rules]})["rules"])

    def tasks(self, *, key: str | None = None, status: str | None = None, model: str | None = None) -> list[MockTask]:
        params = {k: v for k, v in {"key": key, "status": status, "model": model}.items() if v is not None}
        return [MockTask.from_json(t) for t in self._call("GET", "/_mock/tasks", params=params)["data"]]

    def task(self, task_id: str) -> MockTask:
        """One task with its event history and its current Get Prediction body."""
        return MockTask.from_json(self._call("GET", f"/_mock/tasks/{task_id}"))

    def cancel(self, task_id: str) -> MockTask:
        return MockTask.from_json(self._call("POST", f"/_mock/tasks/{task_id}/cancel"))

    def requests(
        self, *, method: str | None = None, path: str | None = None, status: int | None = None
    ) -> list[MockRequest]:
        """The request journal, newest first."""
        params = {k: v for k, v in {"method": method, "path": path, "status": status}.items() if v is not None}
        return [MockRequest.from_json(e) for e in self._call("GET", "/_mock/requests", params=params)["data"]]

    def webhooks(self, *, task_id: str | None = None, status: str | None = None) -> list[MockDelivery]:
        """Webhook deliveries in creation order (`status`: pending, delivered, exhausted, gone, blocked)."""
        params = {k: v for k, v in {"task_id": task_id, "status": status}.items() if v is not None}
        return [MockDelivery.from_json(d) for d in self._call("GET", "/_mock/webhooks", params=params)["deliveries"]]

    def webhook(self, delivery_id: str) -> MockDelivery:
        return MockDelivery.from_json(self._call("GET", f"/_mock/webhooks/{delivery_id}"))

    def redeliver(self, delivery_id: str) -> MockDelivery:
        return MockDelivery.from_json(self._call("POST", f"/_mock/webhooks/{delivery_id}/redeliver"))

    def wait_for_webhooks(
        self, count: int = 1, *, status: str = "delivered", task_id: str | None = None, timeout: float = 5.0
    ) -> list[MockDelivery]:
        """Wait (real time: deliveries are real HTTP) until `count` deliveries reached `status`."""
        return self._wait(lambda ds: len(ds) >= count, f"{count} deliveries {status!r}", task_id, status, timeout)

    def assert_delivered(
        self, event: str = "success", *, count: int = 1, task_id: str | None = None, timeout: float = 5.0
    ) -> list[MockDelivery]:
        """Wait for `count` delivered webhooks of `event` (e.g. `success`, `failed`), then assert there are no more."""
        found = self._wait(
            lambda ds: len([d for d in ds if d.event == event]) >= count,
            f"{count} delivered {event!r} webhooks",
            task_id,
            "delivered",
            timeout,
        )
        matching = [d for d in found if d.event == event]
        assert len(matching) == count, f"expected {count} delivered {event!r} webhooks, got {len(matching)}: {matching}"
        return matching

    def wait_for_attempts(self, count: int, *, task_id: str | None = None, timeout: float = 5.0) -> list[MockDelivery]:
        """Wait until `count` attempts finished (answered or failed), e.g. before advancing the clock to a retry."""
        return self._wait(
            lambda ds: sum(len(d.attempts) for d in ds) >= count, f"{count} attempts", task_id, None, timeout
        )

    def _wait(
        self,
        done: Callable[[list[MockDelivery]], bool],
        what: str,
        task_id: str | None,
        status: str | None,
        timeout: float,
    ) -> list[MockDelivery]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.webhooks(task_id=task_id, status=status)
            if done(found):
                return found
            if time.monotonic() > deadline:
                seen = [(d.delivery_id, d.status, len(d.attempts)) for d in self.webhooks(task_id=task_id)]
                raise AssertionError(f"expected {what} within {timeout} s; webhook journal: {seen}")
            threading.Event().wait(0.01)
