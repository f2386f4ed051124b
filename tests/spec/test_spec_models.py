"""The model table: each of the 23 documented models, its upstream examples, and invalid variants derived from the spec.

The upstream per-page OpenAPI files live in `../shared/api/upstream-docs/` beside the checkout. Tests that read
them skip when that folder is absent; the spec's own named examples are checked against the documented count,
so the table still bites without it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

import openapi

SPEC = openapi.load_spec()
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
MAPPING: dict[str, str] = SCHEMAS["CreatePredictionRequest"]["discriminator"]["mapping"]
MODELS = sorted(MAPPING)
EXAMPLES: dict[str, Any] = SPEC["components"]["examples"]
REQUEST_EXAMPLES = openapi.request_examples(SPEC)
# What the upstream pages document (docs.shuyou.ai source at 4104763): 23 model pages, 80 request examples in all
# (77 on the model pages and 3 on the generic Create Prediction page).
DOCUMENTED_MODEL_COUNT = 23
DOCUMENTED_REQUEST_EXAMPLE_COUNT = 80

UPSTREAM = Path(__file__).resolve().parents[2].parent / "shared" / "api" / "upstream-docs"
needs_upstream = pytest.mark.skipif(
    not UPSTREAM.is_dir(), reason=f"upstream docs not found at {UPSTREAM} (../shared beside the checkout)"
)

CREATE = openapi.schema_validator("CreatePredictionRequest")


# ---------------------------------------------------------------------------------------------------- helpers


def resolve(node: dict[str, Any], document: dict[str, Any] = SPEC) -> dict[str, Any]:
    """Follow `$ref`s; sibling keywords (the per-model limits) are laid over the referenced schema."""
    while "$ref" in node:
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        node = {**openapi.pointer(document, node["$ref"]), **siblings}
    return node


def model_schema(model: str) -> dict[str, Any]:
    return resolve({"$ref": MAPPING[model]})


def input_schema(model: str) -> dict[str, Any]:
    return resolve(model_schema(model)["properties"]["input"])


def input_properties(model: str) -> dict[str, dict[str, Any]]:
    return {name: resolve(prop) for name, prop in input_schema(model)["properties"].items()}


def base_body(model: str) -> dict[str, Any]:
    """A valid body for the model, from the spec's own named examples (without a webhook)."""
    name = next(name for name, value in REQUEST_EXAMPLES.items() if value["model"] == model)
    body: dict[str, Any] = copy.deepcopy(REQUEST_EXAMPLES[name])
    body.pop("webhook", None)
    return body


def with_input(model: str, **fields: Any) -> dict[str, Any]:
    body = base_body(model)
    body["input"].update(fields)
    return body


def upstream_pages() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(UPSTREAM.glob("*-series/**/*-generate.json")):
        yield path.name, json.loads(path.read_text(encoding="utf-8"))


def upstream_request_examples() -> Iterator[tuple[str, Any]]:
    pages = [("create-prediction", json.loads((UPSTREAM / "task-management" / "create-prediction.json").read_text()))]
    pages += list(upstream_pages())
    for page, document in pages:
        media = document["paths"]["/v1/predictions"]["post"]["requestBody"]["content"]["application/json"]
        for key, example in media["examples"].items():
            yield f"{page}:{key}", example["value"]


def upstream_request_schema(document: dict[str, Any]) -> dict[str, Any]:
    media: dict[str, Any] = document["paths"]["/v1/predictions"]["post"]["requestBody"]["content"]["application/json"]
    return resolve(media["schema"], document)


def errors(body: Any, validator: Any = CREATE) -> list[str]:
    return [f"/{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(body)]


# ---------------------------------------------------------------------------------------------------- the table


def test_the_model_list_is_the_discriminator_mapping() -> None:
    one_of = [branch["$ref"] for branch in SCHEMAS["CreatePredictionRequest"]["oneOf"]]
    assert len(MODELS) == DOCUMENTED_MODEL_COUNT
    assert sorted(one_of) == sorted(MAPPING.values())


@pytest.mark.parametrize("model", MODELS)
def test_model_schema_is_flat_and_pins_model_and_function(model: str) -> None:
    schema = model_schema(model)
    assert schema["type"] == "object"
    assert schema["required"] == ["model", "function", "input"]
    assert schema["properties"]["model"]["enum"] == [model]
    assert schema["properties"]["function"]["enum"] in (["image"], ["video"], ["audio"])
    assert schema["properties"]["input"]["$ref"].startswith("#/components/schemas/")
    assert schema["properties"]["webhook"] == {"$ref": "#/components/schemas/WebhookUrl"}
    assert "prompt" in input_schema(model)["required"]


def test_spec_names_every_documented_request_example() -> None:
    assert len(REQUEST_EXAMPLES) == DOCUMENTED_REQUEST_EXAMPLE_COUNT
    assert {value["model"] for value in REQUEST_EXAMPLES.values()} == set(MODELS)


@needs_upstream
def test_spec_examples_are_exactly_the_upstream_examples() -> None:
    upstream = dict(upstream_request_examples())
    assert len(upstream) == DOCUMENTED_REQUEST_EXAMPLE_COUNT
    for key, value in upstream.items():
        page, _, name = key.partition(":")
        prefix = "create-prediction" if page == "create-prediction" else value["model"]
        assert REQUEST_EXAMPLES[f"{prefix}.{name}"] == value, key


@needs_upstream
def test_upstream_pages_are_the_spec_models() -> None:
    pages = {
        model
        for _, document in upstream_pages()
        for model in [upstream_request_schema(document)["properties"]["model"].get("enum", [None])[0]]
    }
    # speech-2.8-hd's page has no enum on `model`, only a default (NOTES 3.3).
    assert pages - {None} | {"speech-2.8-hd"} == set(MODELS)


@needs_upstream
@pytest.mark.parametrize(("key", "body"), list(upstream_request_examples()) if UPSTREAM.is_dir() else [])
def test_upstream_example_validates(key: str, body: Any) -> None:
    assert errors(body) == []
    assert errors(body, openapi.schema_validator(MAPPING[body["model"]])) == []


# Keywords compared between the spec and each upstream page, per input field.
COMPARED = ("type", "enum", "default", "format", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems")


def comparable(prop: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    prop = resolve(prop, document)
    if "oneOf" in prop:  # duration: the integer branch is the documented one, the string branch is ours
        integer = next(resolve(branch, document) for branch in prop["oneOf"] if branch.get("type") == "integer")
        prop = {**integer, **{key: value for key, value in prop.items() if key != "oneOf"}}
    out = {key: prop[key] for key in COMPARED if key in prop}
    if "items" in prop:
        out["items"] = comparable(prop["items"], document)
    if "properties" in prop:
        out["properties"] = {name: comparable(sub, document) for name, sub in prop["properties"].items()}
    return out


@needs_upstream
@pytest.mark.parametrize(("page", "document"), list(upstream_pages()) if UPSTREAM.is_dir() else [])
def test_every_documented_input_field_is_in_the_spec(page: str, document: dict[str, Any]) -> None:
    upstream = upstream_request_schema(document)
    model = upstream["properties"]["model"].get("default")
    assert upstream["properties"]["function"]["enum"] == model_schema(model)["properties"]["function"]["enum"]
    theirs, ours = resolve(upstream["properties"]["input"], document), input_schema(model)
    assert ours["required"] == theirs["required"]
    assert ours.get("additionalProperties", True) == theirs.get("additionalProperties", True)  # absent is open
    assert list(ours["properties"]) == list(theirs["properties"])
    for name, prop in theirs["properties"].items():
        assert comparable(ours["properties"][name], SPEC) == comparable(prop, document), f"{page}: input.{name}"


@needs_upstream
def test_every_field_the_docs_call_case_insensitive_is_marked() -> None:
    # The 23 pages state one such rule today (gpt-image-2 `resolution`); the mock folds case where this mark is.
    documented, marked = set(), set()
    for page, document in upstream_pages():
        upstream = upstream_request_schema(document)
        model = upstream["properties"]["model"].get("default")
        for name, prop in resolve(upstream["properties"]["input"], document)["properties"].items():
            if "case-insensitive" in resolve(prop, document).get("description", "").lower():
                documented.add((model, name))
        for name, prop in input_properties(model).items():
            if prop.get("x-case-insensitive") is True:
                assert prop["enum"], f"{page}: x-case-insensitive marks an enum"
                marked.add((model, name))
    assert documented == marked == {("gpt-image-2", "resolution")}


# ---------------------------------------------------------------------------------------------------- generation


@pytest.mark.parametrize("model", MODELS)
def test_schemathesis_generates_valid_bodies_for_each_model(model: str) -> None:
    spec = openapi.load_spec()
    media = spec["paths"]["/v1/predictions"]["post"]["requestBody"]["content"]["application/json"]
    media["schema"] = {"$ref": MAPPING[model]}
    operation = schemathesis.openapi.from_dict(spec)["/v1/predictions"]["POST"]
    seen: list[Any] = []

    @settings(max_examples=5, database=None, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy())
    def generate(case: Any) -> None:
        assert case.body["model"] == model
        assert errors(case.body) == []
        seen.append(case.body)

    generate()
    assert seen


# ---------------------------------------------------------------------------------------------------- invalid variants


def invalid_variants() -> Iterator[Any]:
    """Bodies that break one documented rule each, derived from every model's schema (not hand-listed)."""
    for model in MODELS:
        props = input_properties(model)
        body = base_body(model)
        function = body["function"]

        missing = copy.deepcopy(body)
        del missing["input"]["prompt"]
        yield pytest.param(missing, id=f"{model}-missing-prompt")
        if "maxLength" in props["prompt"]:
            long_prompt = "x" * (props["prompt"]["maxLength"] + 1)
            yield pytest.param(with_input(model, prompt=long_prompt), id=f"{model}-prompt-too-long")
        for other in sorted({"image", "video", "audio"} - {function}):
            yield pytest.param({**body, "function": other}, id=f"{model}-function-{other}")
        yield pytest.param({**body, "model": f"{model}-unknown"}, id=f"{model}-unknown-model")
        yield pytest.param({**body, "webhook": "ftp://example.com/hook"}, id=f"{model}-webhook-scheme")

        for name, prop in props.items():
            if "oneOf" in prop:  # duration
                numbers = [value for branch in prop["oneOf"] for value in resolve(branch).get("enum", [])]
                too_big = max([int(n) for n in numbers] + [resolve(b).get("maximum", 0) for b in prop["oneOf"]]) + 1
                yield pytest.param(with_input(model, **{name: too_big}), id=f"{model}-{name}-out-of-range")
                yield pytest.param(with_input(model, **{name: str(too_big)}), id=f"{model}-{name}-string-out-of-range")
                yield pytest.param(with_input(model, **{name: "five"}), id=f"{model}-{name}-not-numeric")
            if "enum" in prop:
                yield pytest.param(with_input(model, **{name: "not-a-listed-value"}), id=f"{model}-{name}-enum")
            if "maximum" in prop:
                yield pytest.param(with_input(model, **{name: prop["maximum"] + 1}), id=f"{model}-{name}-above-max")
            if "minimum" in prop:
                yield pytest.param(with_input(model, **{name: prop["minimum"] - 1}), id=f"{model}-{name}-below-min")
            if prop.get("format") == "uri":
                yield pytest.param(with_input(model, **{name: "not a url"}), id=f"{model}-{name}-not-a-url")
            if prop.get("type") == "array":
                urls = [f"https://example.com/{i}.png" for i in range(prop["maxItems"] + 1)]
                yield pytest.param(with_input(model, **{name: urls}), id=f"{model}-{name}-too-many-items")
                yield pytest.param(with_input(model, **{name: ["not a url"]}), id=f"{model}-{name}-item-not-a-url")
            if prop.get("type") == "boolean":
                yield pytest.param(with_input(model, **{name: "yes"}), id=f"{model}-{name}-not-boolean")
            if prop.get("type") == "object":
                for sub_name, sub in prop["properties"].items():
                    if "enum" in sub:
                        nested = {sub_name: "not-a-listed-value"}
                        yield pytest.param(with_input(model, **{name: nested}), id=f"{model}-{name}.{sub_name}-enum")


@pytest.mark.parametrize("body", list(invalid_variants()))
def test_invalid_variant_is_rejected(body: Any) -> None:
    assert errors(body) != []


@pytest.mark.parametrize("model", MODELS)
def test_every_model_has_its_documented_limits(model: str) -> None:
    """Guards the generator above: every model yields its limit variants (no silent empty loops)."""
    ids = [param.id for param in invalid_variants() if param.id and param.id.startswith(f"{model}-")]
    assert f"{model}-missing-prompt" in ids
    assert f"{model}-unknown-model" in ids
    assert sum(f"{model}-function-" in i for i in ids) == 2
    assert any(i.endswith("-enum") for i in ids) or model.startswith("inworld-")


@pytest.mark.parametrize("model", MODELS)
def test_input_is_open_as_upstream_has_it(model: str) -> None:
    # DECISIONS 16: no upstream page closes `input`, so an unknown input field is accepted.
    assert input_schema(model).get("additionalProperties", True) is True
    assert errors(with_input(model, some_future_field=1)) == []


def test_every_input_schema_states_that_it_is_open() -> None:
    # DECISIONS 16 says so; a generator (openapi-typescript) closes an object that leaves it unsaid.
    named = {name for name in SCHEMAS if name.endswith("Input")}
    used = {model_schema(model)["properties"]["input"]["$ref"].rsplit("/", 1)[1] for model in MODELS}
    assert used <= named  # the two inworld models share one
    assert [name for name in sorted(named) if SCHEMAS[name].get("additionalProperties") is not True] == []


@pytest.mark.parametrize("model", [model for model in MODELS if "duration" in input_properties(model)])
def test_duration_accepts_integer_and_numeric_string(model: str) -> None:
    default = input_properties(model)["duration"]["default"]
    assert errors(with_input(model, duration=default)) == []
    assert errors(with_input(model, duration=str(default))) == []


@pytest.mark.parametrize("model", MODELS)
def test_prompt_at_the_limit_is_accepted(model: str) -> None:
    limit = input_properties(model)["prompt"].get("maxLength", 40_000)
    assert errors(with_input(model, prompt="x" * limit)) == []


@pytest.mark.parametrize(
    "webhook",
    [
        "https://your-domain.com/webhook/image-done",
        "http://127.0.0.1:8123/hook",
        "http://localhost/hook",
        "http://127.0.0.2/hook",
        "https://user:pw@hooks.example/hook",
    ],
)
def test_webhook_policy_accepts_https_and_loopback_http(webhook: str) -> None:
    assert errors({**base_body("gpt-image-2"), "webhook": webhook}) == []


@pytest.mark.parametrize(
    "webhook", ["http://example.com/hook", "http://localhost.evil.com/", "not a url", "http://127.1/", "http://a@b@c/"]
)
def test_webhook_policy_rejects_other_urls(webhook: str) -> None:
    assert errors({**base_body("gpt-image-2"), "webhook": webhook}) != []
