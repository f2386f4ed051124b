"""Every example in the spec validates against the schema it illustrates, and every named example is used."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import openapi

SPEC = openapi.load_spec()


def _media_types(node: Any, pointer: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (pointer, object) for every media type object that carries a schema and examples."""
    if isinstance(node, dict):
        if "schema" in node and ("examples" in node or "example" in node):
            yield pointer, node
        for key, value in node.items():
            yield from _media_types(value, f"{pointer}/{openapi.escape(str(key))}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _media_types(value, f"{pointer}/{index}")


def _cases() -> Iterator[Any]:
    for pointer, media in _media_types({"paths": SPEC["paths"], "components": SPEC["components"]}):
        if "example" in media:
            yield pytest.param(f"{pointer}/schema", "example", media["example"], id=f"{pointer}:example")
        for name, example in media.get("examples", {}).items():
            resolved = openapi.resolve(SPEC, example)
            yield pytest.param(f"{pointer}/schema", name, resolved["value"], id=f"{pointer}:{name}")


CASES = list(_cases())


@pytest.mark.parametrize(("schema_pointer", "name", "value"), CASES)
def test_example_validates_against_its_schema(schema_pointer: str, name: str, value: Any) -> None:
    errors = [
        f"{list(e.instance_path)}: {e.message}" for e in openapi.schema_validator(schema_pointer).iter_errors(value)
    ]
    assert errors == [], name


def test_every_named_example_is_referenced() -> None:
    referenced = {
        example["$ref"].rsplit("/", 1)[-1]
        for _, media in _media_types({"paths": SPEC["paths"], "components": SPEC["components"]})
        for example in media.get("examples", {}).values()
        if "$ref" in example
    }
    assert set(SPEC["components"]["examples"]) - referenced == set()


def test_request_examples_are_named_after_their_model() -> None:
    body = SPEC["paths"]["/v1/predictions"]["post"]["requestBody"]["content"]["application/json"]
    for name, example in body["examples"].items():
        assert example == {"$ref": f"#/components/examples/{name}"}
        prefix, _, key = name.rpartition(".")
        value = SPEC["components"]["examples"][name]["value"]
        assert prefix in (value["model"], "create-prediction"), name
        assert key
