"""The `MockServer` handle the fixtures yield, and how the fixtures build servers and read markers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from mock_server.pytest_plugin.client import MockControl

if TYPE_CHECKING:
    import httpx2

    from mock_server.clock import FakeClock
    from mock_server.journal import Journal
    from mock_server.settings import Settings
    from mock_server.testing import LiveServer

__all__ = ["MockServer"]


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
        return signing_secrets(self.settings)

    def advance(self, seconds: float) -> float:
        """Shorthand for `control.advance(seconds)`: move the mock clock, return the new time."""
        return self.control.advance(seconds)

    def client(self, api_key: str | None = None, **kwargs: Any) -> httpx2.Client:
        """Another client on this mock, with `Authorization: Bearer <api_key>` (closed after the test)."""
        headers = {"Authorization": f"Bearer {api_key or self.api_key}"}
        if self.base_url == TESTSERVER:  # in-process: share the TestClient's transport, whose portal runs the app
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

TESTSERVER = "http://testserver"


def signing_secrets(settings: Settings) -> tuple[str, ...]:
    """The secrets the app signs with (`webhook_secret`, when set, has filled `webhooks.secrets`)."""
    return settings.webhook_secrets


def _client(base_url: str, api_key: str, app: Any = None, **kwargs: Any) -> httpx2.Client:
    headers = {"Authorization": f"Bearer {api_key}"}
    if app is not None:
        from starlette.testclient import TestClient

        return TestClient(app, base_url=base_url, headers=headers)
    import httpx2

    return httpx2.Client(base_url=base_url, headers=headers, **{"timeout": 30.0, **kwargs})


def new_app(settings: Settings) -> tuple[Any, FakeClock]:
    from mock_server.app import create_app
    from mock_server.clock import FakeClock

    clock = FakeClock()
    return create_app(settings, clock=clock), clock


def make_handle(base_url: str, settings: Settings, app: Any, clock: FakeClock, api_key: str) -> MockServer:
    http = _client(base_url, api_key, app if base_url == TESTSERVER else None)
    return MockServer(base_url, api_key, settings, clock, app, http, MockControl(http), [http])


@dataclass(frozen=True, slots=True)
class LiveMock:
    """The session's shared live mock (`mock_session_server`): the server and what it was built with."""

    server: LiveServer
    settings: Settings
    clock: FakeClock


def start_live(settings: Settings) -> LiveMock:
    from mock_server.testing import serve_in_thread

    app, clock = new_app(settings)
    return LiveMock(serve_in_thread(app), settings, clock)


def marker_settings(base: Settings, node: pytest.Item) -> Settings:
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


def marker_rules(node: pytest.Item) -> list[dict[str, Any]]:
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
def prepared_for_test(handle: MockServer, node: pytest.Item, *, reset: bool) -> Iterator[MockServer]:
    try:
        if reset:
            handle.control.reset()
        rules = marker_rules(node)
        if rules:
            handle.control.set_rules([*rules, *(dict(r.raw) for r in handle.settings.rules)])
        yield handle
        handle.check()
    finally:
        handle.close()
