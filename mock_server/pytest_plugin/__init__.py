"""pytest fixtures for the ShuYou mock: the pytest11 plugin `mock_server` (`-p no:mock_server` removes it).

Fixtures, all prefixed `mock_`:

- `mock_server` (function): a live mock on 127.0.0.1 (`MockServer`: `base_url`, `api_key`, `http`, `control`).
  By default the session's shared server, reset before the test; a server of its own when the test's settings
  differ (markers below, or an overridden `mock_settings`). After the test, a server-side error is re-raised.
- `mock_fresh_server` (function): always a server of its own for this test.
- `mock_session_server` (session): the shared live mock (`LiveMock`: its `server`, uvicorn in a thread, with the
  `settings` and `FakeClock` it was built with).
- `mock_app` (function): the same `MockServer` handle on an in-process app (Starlette `TestClient`, no socket).
- `mock_client` / `mock_async_client` (function): an authenticated in-process `httpx2` client, sync or async.
- `mock_base_settings` (session), `mock_settings` (function), `mock_api_key` (function): the knobs.
- `mock_webhook_receiver` (function): the `contracts` receiver, verifying the mock's signing secrets.

Markers: `mock_settings(**fields)` (config-file keys), `mock_time_scale(x)`, `mock_seed(n)` choose the
server's settings; `mock_rules(*rules)` and `mock_outcome(outcome, *, duration=None, **match)` set rules.
The mock's clock is a `FakeClock`: it stands still until the test calls `mock_server.advance(seconds)`.
This package: `client` (`MockControl`, the typed client of `/_mock/...`), `server` (the `MockServer` handle,
building servers, reading markers); the fixtures are here. See docs/pytest-plugin.md.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from mock_server.pytest_plugin.client import MockAttempt, MockControl, MockDelivery, MockRequest, MockTask
from mock_server.pytest_plugin.server import (
    TESTSERVER,
    LiveMock,
    MockServer,
    make_handle,
    marker_rules,
    marker_settings,
    new_app,
    prepared_for_test,
    signing_secrets,
    start_live,
)

if TYPE_CHECKING:
    import httpx2

    from mock_server.settings import Settings

__all__ = [
    "LiveMock",
    "MockAttempt",
    "MockControl",
    "MockDelivery",
    "MockRequest",
    "MockServer",
    "MockTask",
    "WebhookReceiver",
]

MARKERS = (
    "mock_settings(**fields): run the test on its own mock whose settings take these config-file keys",
    "mock_time_scale(scale): run the test on its own mock with this time scale (0 = tasks finish at once)",
    "mock_seed(seed): run the test on its own mock with this seed",
    "mock_rules(*rules): behaviour rules (config-file form) active during the test, before the configured ones",
    "mock_outcome(outcome, *, duration=None, **match): shorthand for one rule forcing 'success' or 'failed'",
)
_DEFAULT_KEY = "sk-test"


class WebhookReceiver(Protocol):
    """What `mock_webhook_receiver` gives (`contracts.receiver.WebhookReceiver`, which the mock does not import)."""

    url: str

    def deliveries(self) -> list[dict[str, Any]]: ...
    def clear(self) -> None: ...
    def set_behaviour(self, **changes: Any) -> object: ...
    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]: ...


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)


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
        return marker_settings(mock_base_settings, request.node)
    except SettingsError as exc:
        pytest.fail(f"mock settings marker: {exc}", pytrace=False)


@pytest.fixture
def mock_api_key(mock_settings: Settings) -> str:
    """The bearer key the fixtures' clients send (the first configured key when `keys` restricts them)."""
    return mock_settings.keys[0] if mock_settings.keys else _DEFAULT_KEY


@pytest.fixture(scope="session")
def mock_session_server(mock_base_settings: Settings) -> Iterator[LiveMock]:
    """The shared live mock (uvicorn on 127.0.0.1:0 in a thread, its settings and clock), started on first use."""
    live = start_live(mock_base_settings)
    try:
        yield live
    finally:
        live.server.stop()


@pytest.fixture
def mock_fresh_server(
    mock_settings: Settings, mock_api_key: str, request: pytest.FixtureRequest
) -> Iterator[MockServer]:
    """A live mock of its own for this test, built from `mock_settings`."""
    live = start_live(mock_settings)
    try:
        handle = make_handle(live.server.base_url, mock_settings, live.server.app, live.clock, mock_api_key)
        with prepared_for_test(handle, request.node, reset=False) as ready:
            yield ready
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
    live: LiveMock = request.getfixturevalue("mock_session_server")
    handle = make_handle(live.server.base_url, live.settings, live.server.app, live.clock, mock_api_key)
    with prepared_for_test(handle, request.node, reset=True) as ready:
        yield ready


@pytest.fixture
def mock_app(mock_settings: Settings, mock_api_key: str, request: pytest.FixtureRequest) -> Iterator[MockServer]:
    """An in-process mock (no socket): `http` is a Starlette `TestClient`, so the lifespan (timers, webhooks) runs."""
    app, clock = new_app(mock_settings)
    handle = make_handle(TESTSERVER, mock_settings, app, clock, mock_api_key)
    with handle.http, prepared_for_test(handle, request.node, reset=False) as ready:
        yield ready


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

    app, _clock = new_app(mock_settings)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {mock_api_key}"}
        async with httpx2.AsyncClient(transport=transport, base_url=TESTSERVER, headers=headers) as client:
            rules = marker_rules(request.node)
            if rules:
                configured = [dict(r.raw) for r in mock_settings.rules]
                response = await client.put("/_mock/rules", json={"rules": [*rules, *configured]})
                if response.status_code != 200:
                    raise AssertionError(f"PUT /_mock/rules -> {response.status_code}: {response.text}")
            yield client
        app.state.mock.journal.check()


@pytest.fixture
def mock_webhook_receiver(mock_settings: Settings, request: pytest.FixtureRequest) -> WebhookReceiver:
    """A webhook receiver on 127.0.0.1:0 (the one from `contracts`) that verifies the mock's signing secrets.

    `url`, `deliveries()`, `wait_for(n)`, `set_behaviour(script=[500, 200])`; provided through the `contracts`
    plugin's `webhook_receiver_factory` fixture, so the mock never imports the harness.
    """
    try:
        factory: Callable[..., WebhookReceiver] = request.getfixturevalue("webhook_receiver_factory")
    except pytest.FixtureLookupError:
        pytest.fail(
            "mock_webhook_receiver needs the `contracts` plugin's webhook_receiver_factory fixture "
            "(installed with shuyou-mock; is `-p no:contracts` set?)",
            pytrace=False,
        )
    return factory(secrets=signing_secrets(mock_settings))
