from __future__ import annotations

import mock_server


def test_public_surface_is_exactly_all() -> None:
    assert sorted(mock_server.__all__) == [
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
    for name in mock_server.__all__:
        assert getattr(mock_server, name) is not None
