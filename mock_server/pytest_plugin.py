"""pytest11 plugin `mock_server`: fixtures for the ShuYou mock (work in progress)."""

from __future__ import annotations
