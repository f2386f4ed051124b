"""The ShuYou Predictions API contract: the one OpenAPI 3.1 document that the mock and the harness read.

`load_spec()` returns the parsed document (a fresh copy each call, so callers may mutate it);
`SPEC_PATH` is the YAML file itself, shipped inside the installed package;
`schema_validator(ref)` compiles one of its schemas, with every `$ref` resolved, into a jsonschema-rs validator;
`resolve(document, node)` follows local `$ref`s by hand (for readers that walk the document, not validate);
`escape(token)` / `ref(*tokens)` build the JSON pointers that `pointer(document, ref)` walks;
`models()` is the model -> function map, `request_examples()` the named example request bodies,
`examples()` every component example's value, and `control_spec()` the mock's own `/_mock` document
(`control.yaml`): the mock and the harness both read these facts here, never by walking the document themselves.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema_rs

__all__ = [
    "CONTROL_SPEC_PATH",
    "SPEC_PATH",
    "control_spec",
    "documented_statuses",
    "escape",
    "examples",
    "load_spec",
    "models",
    "pointer",
    "properties",
    "ref",
    "request_examples",
    "resolve",
    "schema_validator",
]

SPEC_PATH = Path(__file__).with_name("predictions.yaml")
CONTROL_SPEC_PATH = Path(__file__).with_name("control.yaml")


@functools.cache
def _parsed() -> dict[str, Any]:
    return parse_cached(SPEC_PATH, SPEC_PATH.parent / "__pycache__")


def parse_cached(path: Path, cache_dir: Path) -> dict[str, Any]:
    """The YAML document at `path`, through a JSON copy in `cache_dir` named after a hash of the YAML's bytes.

    Building the Python objects from YAML costs ~70 ms of CPU at every start (PyYAML's constructor is Python even
    over the C parser), json.loads of the same document ~2 ms (2026-12-02, this shared 2-core machine). The copy
    is only written when the document survives a JSON round trip unchanged; an unwritable or unreadable
    cache (like an unwritable `__pycache__` for .pyc files) just means parsing the YAML.
    """
    raw = path.read_bytes()
    cached = cache_dir / f"{path.stem}.{hashlib.sha256(raw).hexdigest()[:16]}.json"
    try:
        document: dict[str, Any] = json.loads(cached.read_bytes())
        return document
    except (OSError, ValueError):
        pass
    import yaml  # only without a fresh JSON copy: importing PyYAML costs ~20 ms at startup

    document = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    try:
        text = json.dumps(document, ensure_ascii=False)
    except (TypeError, ValueError):  # a date, a set...: not JSON
        return document
    if json.loads(text) == document:  # int keys would come back as strings
        try:
            cache_dir.mkdir(exist_ok=True)
            for stale in cache_dir.glob(f"{path.stem}.*.json"):
                stale.unlink(missing_ok=True)
            temporary = cached.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, cached)  # atomic: a concurrent reader sees the old name missing or the whole copy
        except OSError:
            pass
    return document


def load_spec() -> dict[str, Any]:
    """Return the parsed OpenAPI document (a deep copy)."""
    return copy.deepcopy(_parsed())


def escape(token: str) -> str:
    """One key as a JSON-pointer token (RFC 6901: `~` -> `~0`, then `/` -> `~1`)."""
    return token.replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def ref(*tokens: str | int) -> str:
    """The local reference `#/...` to the node under these raw keys, e.g. `ref("paths", "/v1/predictions")`."""
    return "#/" + "/".join(escape(str(token)) for token in tokens)


def pointer(document: Any, ref: str) -> Any:
    """The node at a local reference `#/a/b~1c/0` (percent-decoded, then `~1` -> `/`, `~0` -> `~`)."""
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported in the spec, got {ref!r}")
    node: Any = document
    for part in ref[2:].split("/"):
        key = _unescape(urllib.parse.unquote(part))
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def resolve(document: Any, node: Any, *, depth: int = 32) -> Any:
    """Follow `node`'s local `$ref`s (at most `depth` of them) to the first node without one."""
    while isinstance(node, dict) and "$ref" in node and depth > 0:
        node, depth = pointer(document, node["$ref"]), depth - 1
    return node


def properties(document: Any, schema: Any) -> dict[str, Any]:
    """The `properties` of a schema merged with those of its `allOf` parts, each resolved (later parts win)."""
    schema = resolve(document, schema)
    merged: dict[str, Any] = {}
    if not isinstance(schema, Mapping):
        return merged
    for part in schema.get("allOf", ()):
        merged.update(properties(document, part))
    for name, sub in (schema.get("properties") or {}).items():
        merged[name] = resolve(document, sub)
    return merged


def models(document: Any = None) -> dict[str, str]:
    """model -> function: the `CreatePredictionRequest` discriminator mapping, each request schema's one-value
    `function` enum (read through `allOf`). Raises ValueError naming the schema when a convention is missing."""
    document = _parsed() if document is None else document
    request = document.get("components", {}).get("schemas", {}).get("CreatePredictionRequest")
    if not isinstance(request, Mapping) or "discriminator" not in request:
        raise ValueError("spec: components.schemas.CreatePredictionRequest needs a discriminator mapping")
    mapping: Mapping[str, str] = request["discriminator"].get("mapping") or {}
    if not mapping:
        raise ValueError("spec: CreatePredictionRequest.discriminator.mapping is empty")
    out: dict[str, str] = {}
    for model, target in mapping.items():
        functions = (properties(document, {"$ref": target}).get("function") or {}).get("enum") or []
        if len(functions) != 1:
            raise ValueError(f"spec: {target}.properties.function.enum must hold exactly one value, got {functions!r}")
        out[model] = str(functions[0])
    return out


def request_examples(document: Any = None, operation_id: str = "createPrediction") -> dict[str, Any]:
    """name -> value of the named examples of an operation's JSON request body (`$ref`s followed), in spec order.
    Each value is a fresh copy the caller may change."""
    document = _parsed() if document is None else document
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, Mapping) and operation.get("operationId") == operation_id:
                body = resolve(document, operation.get("requestBody") or {})
                content = body.get("content", {}).get("application/json", {})
                return {
                    name: copy.deepcopy(resolve(document, example).get("value"))
                    for name, example in (content.get("examples") or {}).items()
                }
    raise KeyError(f"spec: no operation has operationId {operation_id!r}")


def examples(document: Any = None) -> dict[str, Any]:
    """name -> value of every `components.examples` entry (fresh copies)."""
    document = _parsed() if document is None else document
    named = document.get("components", {}).get("examples") or {}
    return {name: copy.deepcopy(resolve(document, example).get("value")) for name, example in named.items()}


@functools.cache
def _control() -> dict[str, Any]:
    return parse_cached(CONTROL_SPEC_PATH, CONTROL_SPEC_PATH.parent / "__pycache__")


def control_spec() -> dict[str, Any]:
    """The parsed OpenAPI document of the mock's own `/_mock` control surface (`control.yaml`, a deep copy)."""
    return copy.deepcopy(_control())


def documented_statuses(document: Any, *, prefix: str = "") -> set[str]:
    """Every response status (as a string) some operation declares, only those starting with `prefix`."""
    return {
        str(status)
        for item in document.get("paths", {}).values()
        for operation in item.values()
        if isinstance(operation, dict)
        for status in operation.get("responses", {})
        if str(status).isdigit() and str(status).startswith(prefix)
    }


@functools.cache
def schema_validator(ref: str) -> jsonschema_rs.Draft202012Validator:
    """Return a cached Draft 2020-12 validator (formats checked) for a schema of the spec.

    `ref` is a component schema name (`"CreatePredictionRequest"`) or a JSON pointer into the document
    (`"#/components/responses/BadRequest/content/application~1json/schema"`).
    """
    pointer = ref if ref.startswith("#/") else f"#/components/schemas/{ref}"
    document = _parsed()
    # The document itself is the root resource, so `$ref`s (and their sibling keywords) resolve natively;
    # OpenAPI-only keywords (discriminator, example, x-*) are annotations that the validator ignores.
    # A JSON pointer inside a URI fragment must be percent-encoded (`{prediction_id}` in a path key).
    root = {
        "$ref": urllib.parse.quote(pointer, safe="#/~:@!$&'()*+,;=-._"),
        "components": document["components"],
        "paths": document["paths"],
        "webhooks": document.get("webhooks", {}),
    }
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)
