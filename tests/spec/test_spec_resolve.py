"""`openapi.pointer` / `openapi.resolve`: the one hand-walker of the spec's local `$ref`s (mock and harness)."""

from __future__ import annotations

import pytest

import openapi


def test_pointer_decodes_escapes_and_percent_encoding() -> None:
    spec = openapi.load_spec()
    (path,) = [p for p in spec["paths"] if "{prediction_id}" in p]
    escaped = openapi.escape(path).replace("{", "%7B").replace("}", "%7D")
    assert escaped.startswith("~1v1~1")
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


def test_ref_escapes_each_key_so_pointer_walks_back_to_it() -> None:
    document = {"a/b": {"~c": [{"d": 1}]}}
    assert openapi.ref("a/b", "~c", 0) == "#/a~1b/~0c/0"
    assert openapi.pointer(document, openapi.ref("a/b", "~c", 0, "d")) == 1


def test_models_read_the_function_through_allof() -> None:
    spec = openapi.load_spec()
    model, ref = next(
        iter(spec["components"]["schemas"]["CreatePredictionRequest"]["discriminator"]["mapping"].items())
    )
    function = openapi.models(spec)[model]
    schema = openapi.pointer(spec, ref)
    function_schema = schema["properties"].pop("function")
    schema["allOf"] = [{"properties": {"function": function_schema}}]  # the same model, written with allOf
    assert openapi.models(spec)[model] == function
    schema["allOf"][0]["properties"]["function"] = {"enum": ["a", "b"]}
    with pytest.raises(ValueError, match=r"function\.enum must hold exactly one value, got \['a', 'b'\]"):
        openapi.models(spec)


def test_request_examples_follow_refs_to_their_values() -> None:
    spec = openapi.load_spec()
    named = spec["paths"]["/v1/predictions"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    examples = openapi.request_examples(spec)
    assert list(examples) == list(named)
    name, example = next(iter(named.items()))
    assert examples[name] == openapi.resolve(spec, example)["value"]
    assert examples[name]["model"] in openapi.models(spec)
    examples[name]["model"] = "changed"
    assert openapi.request_examples(spec)[name]["model"] != "changed"  # each call hands out fresh copies


def test_control_spec_is_the_mock_control_document() -> None:
    control = openapi.control_spec()
    assert any(path.startswith("/_mock/") for path in control["paths"])
    control["paths"].clear()
    assert openapi.control_spec()["paths"]
