"""pytest fixtures for the ShuYou mock: the pytest11 plugin `mock_server` (`-p no:mock_server` removes it).

Fixtures, all prefixed `mock_`:

- `mock_server` (function): a live mock on 127.0.0.1 (`MockServer`: `base_url`, `api_key`, `http`, `control`).
  By default the session's shared server, reset before the test; a server of its own when the test's settings
  differ (markers below, or an overridden `mock_settings`). After the test, a server-side error is re-raised.
- `mock_fresh_server` (function): always a server of its own for this test.
- `mock_session_server` (session): the shared live server (uvicorn in a thread, `FakeClock`).
- `mock_app` (function): the same `MockServer` handle on an in-process app (Starlette `TestClient`, no socket).
- `mock_client` / `mock_async_client` (function): an authenticated in-process `httpx2` client, sync or async.
- `mock_base_settings` (session), `mock_settings` (function), `mock_api_key` (function): the knobs.
- `mock_webhook_receiver` (function): the `contracts` receiver, verifying the mock's signing secrets.

Markers: `mock_settings(**fields)` (config-file keys), `mock_time_scale(x)`, `mock_seed(n)` choose the
server's settings; `mock_rules(*rules)` and `mock_outcome(outcome, *, duration=None, **match)` set rules.
The mock's clock is a `FakeClock`: it stands still until the test calls `mock_server.advance(seconds)`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx2

    from mock_server.clock import FakeClock
    from mock_server.journal import Journal
    from mock_server.settings import Settings
    from mock_server.testing import LiveServer

__all__ = ["MockAttempt", "MockControl", "MockDelivery", "MockRequest", "MockServer", "MockTask"]

MARKERS = (
    "mock_settings(**fields): run the test on its own mock whose settings take these config-file keys",
    "mock_time_scale(scale): run the test on its own mock with this time scale (0 = tasks finish at once)",
    "mock_seed(seed): run the test on its own mock with this seed",
    "mock_rules(*rules): behaviour rules (config-file form) active during the test, before the configured ones",
    "mock_outcome(outcome, *, duration=None, **match): shorthand for one rule forcing 'success' or 'failed'",
)
_SETTINGS_MARKERS = ("mock_settings", "mock_time_scale", "mock_seed")
_DEFAULT_KEY = "sk-test"


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)


# -- what the control surface returns, typed ------------------------------------------------------------


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
    status: str  # pending | delivered | exhausted | blocked
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
        """Webhook deliveries in creation order (`status`: pending, delivered, exhausted, blocked)."""
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


@dataclass
class MockServer:
    """A running mock: `base_url`, an `api_key`, an authenticated `http` client and the `control` surface."""

    base_url: str
    api_key: str
    settings: Settings
    clock: FakeClock
    app: Any
    http: httpx2.Client
    control: MockControl
    _clients: list[httpx2.Client] = field(default_factory=list, repr=False)

    @property
    def journal(self) -> Journal:
        """The server's journal (same process): `calls_to(path)`, `requests(...)`, `errors`, `check()`."""
        journal: Journal = self.app.state.mock.journal
        return journal

    @property
    def webhook_secrets(self) -> tuple[str, ...]:
        """The `whsec_...` secrets the mock signs webhooks with (the first one is the newest)."""
        return _secrets(self.settings)

    def advance(self, seconds: float) -> float:
        """Shorthand for `control.advance(seconds)`: move the mock clock, return the new time."""
        return self.control.advance(seconds)

    def client(self, api_key: str | None = None, **kwargs: Any) -> httpx2.Client:
        """Another client on this mock, with `Authorization: Bearer <api_key>` (closed after the test)."""
        headers = {"Authorization": f"Bearer {api_key or self.api_key}"}
        if self.base_url == _TESTSERVER:  # in-process: share the TestClient's transport, whose portal runs the app
            import httpx2

            client = httpx2.Client(transport=self.http._transport, base_url=self.base_url, headers=headers, **kwargs)
        else:
            client = _client(self.base_url, api_key or self.api_key, **kwargs)
        self._clients.append(client)
        return client

    def check(self) -> None:
        """Re-raise the first error a handler or a background job of the mock hit (also done after each test)."""
        self.journal.check()

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


# -- building servers --------------------------------------------------------------------------------------

_TESTSERVER = "http://testserver"


def _secrets(settings: Settings) -> tuple[str, ...]:
    if settings.webhook_secret:
        return (settings.webhook_secret,)
    return tuple(getattr(settings.webhooks, "secrets", ()))


def _client(base_url: str, api_key: str, app: Any = None, **kwargs: Any) -> httpx2.Client:
    headers = {"Authorization": f"Bearer {api_key}"}
    if app is not None:
        from starlette.testclient import TestClient

        return TestClient(app, base_url=base_url, headers=headers)
    import httpx2

    return httpx2.Client(base_url=base_url, headers=headers, **{"timeout": 30.0, **kwargs})


def _new_app(settings: Settings) -> tuple[Any, FakeClock]:
    from mock_server.app import create_app
    from mock_server.clock import FakeClock

    clock = FakeClock()
    return create_app(settings, clock=clock), clock


def _handle(base_url: str, settings: Settings, app: Any, clock: FakeClock, api_key: str) -> MockServer:
    http = _client(base_url, api_key, app if base_url == _TESTSERVER else None)
    return MockServer(base_url, api_key, settings, clock, app, http, MockControl(http), [http])


@dataclass
class _Live:
    server: LiveServer
    settings: Settings
    clock: FakeClock


def _start(settings: Settings) -> _Live:
    from mock_server.testing import serve_in_thread

    app, clock = _new_app(settings)
    return _Live(serve_in_thread(app), settings, clock)


def _marker_settings(base: Settings, node: pytest.Item) -> Settings:
    settings = base
    for marker in reversed(list(node.iter_markers())):  # farthest first, so the closest marker wins
        if marker.name == "mock_settings":
            if marker.args:
                raise pytest.UsageError("mock_settings takes keyword arguments only, e.g. mock_settings(seed=3)")
            settings = type(base).from_mapping(marker.kwargs, settings)
        elif marker.name == "mock_time_scale":
            settings = settings.replace(time_scale=float(_one_arg(marker)))
        elif marker.name == "mock_seed":
            settings = settings.replace(seed=int(_one_arg(marker)))
    return settings


def _one_arg(marker: pytest.Mark) -> Any:
    if len(marker.args) != 1 or marker.kwargs:
        raise pytest.UsageError(f"@pytest.mark.{marker.name} takes exactly one positional argument")
    return marker.args[0]


def _marker_rules(node: pytest.Item) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for marker in node.iter_markers():  # closest first: a test's rule beats its module's
        if marker.name == "mock_rules":
            rules.extend(dict(r) for r in marker.args)
        elif marker.name == "mock_outcome":
            if len(marker.args) != 1:
                raise pytest.UsageError("mock_outcome takes the outcome ('success' or 'failed') as its one positional")
            outcome = marker.args[0]
            match = {k: v for k, v in marker.kwargs.items() if k not in ("duration", "failure")}
            rule: dict[str, Any] = {"name": f"mock_outcome({outcome!r})", "match": match, "outcome": outcome}
            for extra in ("duration", "failure"):
                if marker.kwargs.get(extra) is not None:
                    rule[extra] = marker.kwargs[extra]
            rules.append(rule)
    return rules


@contextlib.contextmanager
def _prepared(handle: MockServer, node: pytest.Item, *, reset: bool) -> Iterator[MockServer]:
    try:
        if reset:
            handle.control.reset()
        rules = _marker_rules(node)
        if rules:
            handle.control.set_rules([*rules, *(dict(r.raw) for r in handle.settings.rules)])
        yield handle
        handle.check()
    finally:
        handle.close()


# -- fixtures ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mock_base_settings() -> Settings:
    """Settings of the shared server: `MOCK_CONFIG` (a YAML file) and `MOCK_*` variables; seed 0 unless set."""
    from mock_server.config import load_settings

    settings = load_settings(os.environ)
    return settings if settings.seed is not None else settings.replace(seed=0)


@pytest.fixture
def mock_settings(mock_base_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Settings for this test: `mock_base_settings` changed by its settings markers."""
    from mock_server.errors import SettingsError

    try:
        return _marker_settings(mock_base_settings, request.node)
    except SettingsError as exc:
        pytest.fail(f"mock settings marker: {exc}", pytrace=False)


@pytest.fixture
def mock_api_key(mock_settings: Settings) -> str:
    """The bearer key the fixtures' clients send (the first configured key when `keys` restricts them)."""
    return mock_settings.keys[0] if mock_settings.keys else _DEFAULT_KEY


@pytest.fixture(scope="session")
def mock_session_server(mock_base_settings: Settings) -> Iterator[LiveServer]:
    """The shared live server (uvicorn on 127.0.0.1:0 in a thread), started on first use."""
    live = _start(mock_base_settings)
    _SESSION[id(live.server)] = live
    yield live.server
    _SESSION.pop(id(live.server), None)
    live.server.stop()


_SESSION: dict[int, _Live] = {}


@pytest.fixture
def mock_fresh_server(
    mock_settings: Settings, mock_api_key: str, request: pytest.FixtureRequest
) -> Iterator[MockServer]:
    """A live mock of its own for this test, built from `mock_settings`."""
    live = _start(mock_settings)
    try:
        handle = _handle(live.server.base_url, mock_settings, live.server.app, live.clock, mock_api_key)
        with _prepared(handle, request.node, reset=False) as prepared:
            yield prepared
    finally:
        live.server.stop()


@pytest.fixture
def mock_server(
    mock_settings: Settings, mock_base_settings: Settings, mock_api_key: str, request: pytest.FixtureRequest
) -> Iterator[MockServer]:
    """The live mock for this test: the shared one, reset first, unless this test's settings differ."""
    if mock_settings != mock_base_settings:
        yield request.getfixturevalue("mock_fresh_server")
        return
    server: LiveServer = request.getfixturevalue("mock_session_server")
    live = _SESSION[id(server)]
    handle = _handle(server.base_url, live.settings, server.app, live.clock, mock_api_key)
    with _prepared(handle, request.node, reset=True) as prepared:
        yield prepared


@pytest.fixture
def mock_app(mock_settings: Settings, mock_api_key: str, request: pytest.FixtureRequest) -> Iterator[MockServer]:
    """An in-process mock (no socket): `http` is a Starlette `TestClient`, so the lifespan (timers, webhooks) runs."""
    app, clock = _new_app(mock_settings)
    handle = _handle(_TESTSERVER, mock_settings, app, clock, mock_api_key)
    with handle.http, _prepared(handle, request.node, reset=False) as prepared:
        yield prepared


@pytest.fixture
def mock_client(mock_app: MockServer) -> httpx2.Client:
    """An authenticated in-process sync client (`mock_app.http`)."""
    return mock_app.http


@pytest.fixture
async def mock_async_client(
    mock_settings: Settings, mock_api_key: str, anyio_backend: Any, request: pytest.FixtureRequest
) -> AsyncIterator[httpx2.AsyncClient]:
    """An authenticated in-process async client over `httpx2.ASGITransport`; the fixture runs the app's lifespan."""
    import httpx2

    app, _clock = _new_app(mock_settings)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {mock_api_key}"}
        async with httpx2.AsyncClient(transport=transport, base_url=_TESTSERVER, headers=headers) as client:
            rules = _marker_rules(request.node)
            if rules:
                configured = [dict(r.raw) for r in mock_settings.rules]
                response = await client.put("/_mock/rules", json={"rules": [*rules, *configured]})
                if response.status_code != 200:
                    raise AssertionError(f"PUT /_mock/rules -> {response.status_code}: {response.text}")
            yield client
        app.state.mock.journal.check()


@pytest.fixture
def mock_webhook_receiver(mock_settings: Settings, request: pytest.FixtureRequest) -> Any:
    """A webhook receiver on 127.0.0.1:0 (the one from `contracts`) that verifies the mock's signing secrets.

    `url`, `deliveries()`, `wait_for(n)`, `set_behaviour(script=[500, 200])`; provided through the `contracts`
    plugin's `webhook_receiver_factory` fixture, so the mock never imports the harness.
    """
    try:
        factory: Callable[..., Any] = request.getfixturevalue("webhook_receiver_factory")
    except pytest.FixtureLookupError:
        pytest.fail(
            "mock_webhook_receiver needs the `contracts` plugin's webhook_receiver_factory fixture "
            "(installed with shuyou-mock; is `-p no:contracts` set?)",
            pytrace=False,
        )
    return factory(secrets=_secrets(mock_settings))
