"""The shape of a JSON answer, compared by shape and not by value: its field paths with their JSON types, and
the values of the fields the spec gives an enum or a const (`data.task_status`, `error.type`, ...).

Ids, URLs and timestamps differ by nature between two services; field names, types and enum values do not.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openapi
from contracts.spec import ContractSpec

__all__ = ["ITEM", "documented_headers", "enum_paths", "fields", "json_type"]

ITEM = "[]"  # the path segment of any list item: `/data/output/[]/type`


def json_type(value: Any) -> str:
    """The JSON type name; integers and floats are both `number` (JSON does not tell them apart)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def fields(body: Any, prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """(path, JSON type, value) of every node under `body`, the root excluded; list items share `[]`."""
    if isinstance(body, dict):
        for key, value in body.items():
            path = f"{prefix}/{key}"
            yield path, json_type(value), value
            yield from fields(value, path)
    elif isinstance(body, list):
        for value in body:
            path = f"{prefix}/{ITEM}"
            yield path, json_type(value), value
            yield from fields(value, path)


def enum_paths(spec: ContractSpec, operation: str, status: int) -> frozenset[str]:
    """Paths of the response schema (for this operation and status) whose value is a closed set."""
    if operation not in spec.operations:
        return frozenset()
    ref = spec.response_schema_ref(operation, status)
    if ref is None:
        return frozenset()
    return frozenset(_enums(spec, openapi.pointer(spec.document, ref), "", 0))


def _enums(spec: ContractSpec, schema: Any, path: str, depth: int) -> Iterator[str]:
    schema = spec.resolve(schema)
    if not isinstance(schema, dict) or depth > 24:
        return
    if "enum" in schema or "const" in schema:
        yield path
    for name, child in (schema.get("properties") or {}).items():
        yield from _enums(spec, child, f"{path}/{name}", depth + 1)
    if isinstance(schema.get("items"), dict):
        yield from _enums(spec, schema["items"], f"{path}/{ITEM}", depth + 1)
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(key) or []:
            yield from _enums(spec, sub, path, depth + 1)


def documented_headers(spec: ContractSpec, operation: str, status: int) -> tuple[str, ...]:
    """The response headers the spec declares for this answer (lower-case), plus `content-type`."""
    if operation not in spec.operations:
        return ()
    response = spec.response(operation, status) or {}
    return ("content-type", *sorted(name.lower() for name in response.get("headers") or {}))
