from __future__ import annotations

import inspect

import mock_server


def test_the_package_exports_every_public_name_it_holds() -> None:
    """Derived as httpx's export test: whatever public class or function the package holds is in `__all__`."""
    held = {
        name
        for name, value in vars(mock_server).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and (getattr(value, "__module__", None) or "").startswith("mock_server.")
    }
    assert held <= set(mock_server.__all__)
    assert "create_app" in mock_server.__all__  # served lazily, so not held until asked
    for name in mock_server.__all__:
        assert getattr(mock_server, name) is not None
