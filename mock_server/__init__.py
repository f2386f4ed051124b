"""A local mock of the ShuYou AI Predictions API: `create_app(Settings(...))` is an ASGI app.

Run it with `python -m mock_server serve` (or `shuyou-mock serve`); see README.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mock_server import errors
from mock_server.clock import Clock, FakeClock, SystemClock
from mock_server.errors import ApiError, MockServerError, SettingsError
from mock_server.journal import Journal
from mock_server.lifecycle import Status
from mock_server.settings import Settings

if TYPE_CHECKING:
    from mock_server.app import create_app

__all__ = [
    "ApiError",
    "Clock",
    "FakeClock",
    "Journal",
    "MockServerError",
    "Settings",
    "SettingsError",
    "Status",
    "SystemClock",
    "create_app",
    "errors",
]


def __getattr__(name: str) -> Any:
    if name == "create_app":  # lazy: importing mock_server stays cheap (no Starlette) until an app is built
        from mock_server.app import create_app

        return create_app
    raise AttributeError(f"module 'mock_server' has no attribute {name!r}")
