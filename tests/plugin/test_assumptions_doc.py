"""docs/assumptions.md is generated from the spec's `x-assumption` marks and must be current."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import openapi

ROOT = Path(__file__).resolve().parents[2]


def test_assumptions_page_is_current(docs_script: Callable[[str], ModuleType]) -> None:
    expected = docs_script("gen_assumptions").render(openapi.load_spec())
    actual = (ROOT / "docs" / "assumptions.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/assumptions.md is stale: run `python docs/gen_assumptions.py`"


def test_every_mark_is_listed_with_its_pointer(docs_script: Callable[[str], ModuleType]) -> None:
    gen = docs_script("gen_assumptions")
    spec = openapi.load_spec()
    found = list(gen.marks(spec))
    assert len(found) >= 10  # the spec marks at least the statuses, ids, webhook and error guesses
    page = gen.render(spec)
    for pointer, reason in found:
        assert f"`{pointer}`" in page
        assert reason.replace("|", "\\|") in page


def test_a_new_mark_makes_the_page_stale(docs_script: Callable[[str], ModuleType]) -> None:
    gen = docs_script("gen_assumptions")
    spec = openapi.load_spec()
    before = gen.render(spec)
    spec["components"]["schemas"]["TaskStatus"]["x-assumption"] = "changed reason"
    assert gen.render(spec) != before


def test_pointers_escape_slashes(docs_script: Callable[[str], ModuleType]) -> None:
    found = dict(docs_script("gen_assumptions").marks({"paths": {"/v1/x": {"get": {"x-assumption": "r"}}}}))
    assert found == {"#/paths/~1v1~1x/get": "r"}
