"""pytest11 plugin `contracts` (stub while the suite is written): options only, imports nothing heavy."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contracts", "ShuYou contract harness")
    group.addoption("--contracts-base-url", default=None, help="base URL to check (env SHUYOU_CONTRACTS_BASE_URL)")
    group.addoption("--contracts-api-key", default=None, help="bearer key (env SHUYOU_CONTRACTS_API_KEY)")
