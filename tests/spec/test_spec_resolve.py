"""`openapi.pointer` / `openapi.resolve`: the one hand-walker of the spec's local `$ref`s (mock and harness)."""

from __future__ import annotations

import pytest

import openapi


def test_pointer_decodes_escapes_and_percent_encoding() -> None:
    spec = openapi.load_spec()
    (path,) = [p for p in spec["paths"] if "{prediction_id}" in p]
    escaped = path.replace("~", "~0").replace("/", "~1").replace("{", "%7B").replace("}", "%7D")
    assert openapi.pointer(spec, f"#/paths/{escaped}") is spec["paths"][path]


def test_resolve_follows_refs_to_the_target() -> None:
    spec = openapi.load_spec()
    mapping = spec["components"]["schemas"]["CreatePredictionRequest"]["discriminator"]["mapping"]
    model, ref = next(iter(mapping.items()))
    schema = openapi.resolve(spec, {"$ref": ref})
    assert schema["properties"]["model"]["enum"] == [model]
    assert openapi.resolve(spec, {"type": "string"}) == {"type": "string"}


def test_only_local_refs() -> None:
    with pytest.raises(ValueError, match="only local"):
        openapi.resolve({}, {"$ref": "https://example.com/schema.json"})


def test_documented_statuses_are_the_operations_response_keys() -> None:
    spec = openapi.load_spec()
    assert openapi.documented_statuses(spec, prefix="4") == {"400", "401", "402", "403", "404", "413", "429"}
    assert "200" in openapi.documented_statuses(spec)
    spec["paths"]["/v1/credits"]["get"]["responses"]["418"] = {"description": "a teapot"}
    assert "418" in openapi.documented_statuses(spec, prefix="4")
