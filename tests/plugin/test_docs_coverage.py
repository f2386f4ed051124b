"""The guide names every control route, every X-Mock header and every plugin fixture and marker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mock_server.pytest_plugin as plugin
from mock_server import behaviour
from mock_server.control import control_routes

DOCS = Path(__file__).resolve().parents[2] / "docs"


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("route", control_routes(), ids=lambda r: f"{sorted(r.methods or ())} {r.path}")
def test_control_surface_page_lists_every_route(route: object) -> None:
    path = getattr(route, "path", "")
    methods = sorted(m for m in getattr(route, "methods", ()) if m != "HEAD")
    text = page("control-surface.md")
    documented = re.sub(r"\{[a-z_]+\}", "{}", text)
    assert re.sub(r"\{[a-z_]+\}", "{}", path) in documented
    assert all(f"{m} {path.split('{')[0]}" in text.replace("`", "") for m in methods)


def test_outcome_page_lists_every_header() -> None:
    headers = [value for name, value in vars(behaviour).items() if name.startswith("HEADER_")]
    assert len(headers) >= 4
    text = page("outcome-control.md").lower()
    for header in headers:
        assert f"`{header}`" in text


def test_plugin_page_lists_every_fixture_and_marker() -> None:
    text = page("pytest-plugin.md")
    fixtures = [name for name in dir(plugin) if name.startswith("mock_") and callable(getattr(plugin, name))]
    assert len(fixtures) >= 9
    for name in fixtures:
        assert f"`{name}`" in text
    for line in plugin.MARKERS:
        assert f"`{line.split('(')[0]}(" in text


def test_relative_links_resolve() -> None:
    pages = [*DOCS.glob("*.md"), DOCS.parent / "examples" / "README.md"]
    for md in pages:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", md.read_text(encoding="utf-8")):
            if not target.startswith(("http://", "https://")):
                assert (md.parent / target).exists(), f"{md.name}: broken link {target}"
