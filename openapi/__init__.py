"""The ShuYou Predictions API contract: the one OpenAPI 3.1 document that the mock and the harness read.

`load_spec()` returns the parsed document (a fresh copy each call, so callers may mutate it);
`SPEC_PATH` is the YAML file itself, shipped inside the installed package;
`schema_validator(ref)` compiles one of its schemas, with every `$ref` resolved, into a jsonschema-rs validator;
`resolve(document, node)` follows local `$ref`s by hand (for readers that walk the document, not validate).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import urllib.parse
from pathlib import Path
from typing import Any

import jsonschema_rs

__all__ = ["SPEC_PATH", "documented_statuses", "load_spec", "pointer", "resolve", "schema_validator"]

SPEC_PATH = Path(__file__).with_name("predictions.yaml")


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


def pointer(document: Any, ref: str) -> Any:
    """The node at a local reference `#/a/b~1c/0` (percent-decoded, then `~1` -> `/`, `~0` -> `~`)."""
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported in the spec, got {ref!r}")
    node: Any = document
    for part in ref[2:].split("/"):
        key = urllib.parse.unquote(part).replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def resolve(document: Any, node: Any, *, depth: int = 32) -> Any:
    """Follow `node`'s local `$ref`s (at most `depth` of them) to the first node without one."""
    while isinstance(node, dict) and "$ref" in node and depth > 0:
        node, depth = pointer(document, node["$ref"]), depth - 1
    return node


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
    }
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)
