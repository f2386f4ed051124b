"""Every YAML file in openapi/ parses to what its author wrote: no text cut by an unquoted `, ` in a flow mapping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import openapi

FILES = sorted(Path(openapi.__file__).parent.glob("*.yaml"))
# Keywords whose value may legitimately be JSON null; anywhere else a null is `{a: b, c}` gone wrong.
NULLABLE = {"example", "default", "const", "value"}


def _entries(node: Any, path: str = "#") -> Iterator[tuple[str, Any, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from _entries(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _entries(value, f"{path}/{index}")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_null_key_or_value_left_by_a_split_flow_mapping(path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    broken = [
        (where, key)
        for where, key, value in _entries(document)
        if key is None or not isinstance(key, str) or (value is None and key not in NULLABLE)
    ]
    assert broken == [], f"{path.name}: quote the text before these keys (a `, ` split a flow mapping): {broken}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_description_is_a_string(path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    descriptions = [(where, value) for where, key, value in _entries(document) if key == "description"]
    assert descriptions
    assert [(where, value) for where, value in descriptions if not isinstance(value, str) or not value.strip()] == []


def test_the_cost_description_survives_whole() -> None:
    usage = openapi.load_spec()["components"]["schemas"]["PredictionUsage"]["properties"]["upstream_cost"]
    assert usage == {"type": "number", "description": "Upstream cost before discount, in USD."}
