"""The harness's one reader of `openapi/predictions.yaml` (through `openapi.load_spec()`); nothing restated here.

Pure: no I/O beyond loading the packaged spec, no HTTP. Validation errors are mapped back onto the spec so a
finding can say whether the broken element carries `x-assumption` (our guess) or is documented.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import openapi

__all__ = [
    "ASSUMPTION_KEY",
    "OPERATIONS",
    "PENDING_STATUS",
    "REQUEST_ID_HEADER",
    "SUCCESS_STATUS",
    "ContractSpec",
    "Operation",
    "SchemaError",
    "load",
]

ASSUMPTION_KEY = "x-assumption"
REQUEST_ID_HEADER = "X-ShuYou-RequestId"
# The one documented non-terminal status (NOTES §2: a task is `processing`, then succeeds or fails).
PENDING_STATUS = "processing"
SUCCESS_STATUS = "success"
OPERATIONS = ("createPrediction", "getPrediction", "getCredits")


@dataclass(frozen=True, slots=True)
class SchemaError:
    """One JSON Schema violation: where in the instance, what rule, and whether the element is an assumption."""

    instance_path: tuple[str | int, ...]
    message: str
    assumption: str | None

    @property
    def pointer(self) -> str:
        return "/" + "/".join(str(part) for part in self.instance_path)


@dataclass(frozen=True, slots=True)
class Operation:
    operation_id: str
    method: str
    path: str


class ContractSpec:
    """Facts the checks need, read once from the spec (`openapi.load_spec()`, whose validators `validate` uses)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        schemas = document["components"]["schemas"]
        status = schemas["TaskStatus"]
        self.statuses: tuple[str, ...] = tuple(status["enum"])
        self.terminal: frozenset[str] = frozenset(s for s in self.statuses if s != PENDING_STATUS)
        self.operations: dict[str, Operation] = {}
        for path, item in document.get("paths", {}).items():
            for method, op in item.items():
                if isinstance(op, dict) and "operationId" in op:
                    self.operations[op["operationId"]] = Operation(op["operationId"], method.upper(), path)
        self.models: dict[str, str] = openapi.models(document)
        # The URL field of each output item type: the item schema's required field besides `type`.
        self.output_url_fields: dict[str, str] = {}
        for kind, ref in schemas["OutputItem"]["discriminator"]["mapping"].items():
            required = [name for name in self.resolve({"$ref": ref}).get("required", []) if name != "type"]
            if required:
                self.output_url_fields[kind] = required[0]

    # -- references -----------------------------------------------------------------------------------------
    def resolve(self, node: Any) -> Any:
        return openapi.resolve(self.document, node)

    def _pointer(self, ref: str) -> Any:
        return openapi.pointer(self.document, ref)

    def assumption_of(self, node: Any) -> str | None:
        """The `x-assumption` reason on `node` or on what it references, if any."""
        for _ in range(32):
            if not isinstance(node, dict):
                return None
            mark = node.get(ASSUMPTION_KEY)
            if mark:
                return str(mark) if mark is not True else "assumption"
            if "$ref" not in node:
                return None
            node = self._pointer(node["$ref"])
        return None

    # -- responses ------------------------------------------------------------------------------------------
    def response(self, operation_id: str, status_code: int) -> dict[str, Any] | None:
        """The documented response object of an operation for a status (exact, then `4XX`, then `default`)."""
        op = self.operations[operation_id]
        responses = self.document["paths"][op.path][op.method.lower()].get("responses", {})
        for key in (str(status_code), f"{str(status_code)[0]}XX", "default"):
            if key in responses:
                resolved: dict[str, Any] = self.resolve(responses[key])
                return resolved
        return None

    def documented_statuses(self, operation_id: str) -> list[str]:
        op = self.operations[operation_id]
        return sorted(self.document["paths"][op.path][op.method.lower()].get("responses", {}))

    def response_schema_ref(self, operation_id: str, status_code: int) -> str | None:
        """A JSON pointer to the schema of the JSON body of that response, or None if none is documented."""
        op = self.operations[operation_id]
        responses = self.document["paths"][op.path][op.method.lower()].get("responses", {})
        for key in (str(status_code), f"{str(status_code)[0]}XX", "default"):
            if key not in responses:
                continue
            pointer = f"#/paths/{_escape(op.path)}/{op.method.lower()}/responses/{key}"
            node = responses[key]
            if "$ref" in node:
                pointer, node = node["$ref"], self.resolve(node)
            if "application/json" in node.get("content", {}):
                return f"{pointer}/content/application~1json/schema"
            return None
        return None

    def request_schema_ref(self, operation_id: str) -> str | None:
        op = self.operations.get(operation_id)
        if op is None:
            return None
        body = self.document["paths"][op.path][op.method.lower()].get("requestBody")
        if body is None:
            return None
        pointer = f"#/paths/{_escape(op.path)}/{op.method.lower()}/requestBody"
        if "$ref" in body:
            pointer, body = body["$ref"], self.resolve(body)
        return f"{pointer}/content/application~1json/schema" if "application/json" in body.get("content", {}) else None

    def header_assumption(self, operation_id: str, status_code: int, name: str) -> tuple[bool, str | None]:
        """(declared?, x-assumption reason) for a response header."""
        response = self.response(operation_id, status_code)
        headers = (response or {}).get("headers", {})
        for key, header in headers.items():
            if key.lower() == name.lower():
                return True, self.assumption_of(header)
        return False, None

    def error_types(self, operation_id: str, status_code: int) -> list[str]:
        """The `error.type` values the spec documents for this status of this operation."""
        ref = self.response_schema_ref(operation_id, status_code)
        if ref is None:
            return []
        return sorted(set(_enum_at(self, self._pointer(ref), ("error", "type"))))

    # -- validation -----------------------------------------------------------------------------------------
    def validate(self, pointer: str, instance: Any, _prefix: tuple[str | int, ...] = ()) -> list[SchemaError]:
        """Validate `instance` against the schema at `pointer` (e.g. `#/components/schemas/ErrorResponse`)."""
        # Our pointers come percent-encoded (`%7Bprediction_id%7D`); schema_validator encodes them itself.
        validator = openapi.schema_validator(unquote(pointer))
        errors: list[SchemaError] = []
        for error in validator.iter_errors(instance):
            where = _prefix + tuple(error.instance_path)
            absolute = list(error.schema_path)
            branch = self._discriminated_branch(absolute, error.instance)
            if branch is not None and _prefix.count("#") < 8:
                errors.extend(self.validate(branch, error.instance, where))
                continue
            # An `enum` lists documented values plus assumed ones: a value outside it is outside both.
            reason = (
                None if absolute[-1:] == ["enum"] else self._assumption_along(pointer, error.evaluation_path, absolute)
            )
            errors.append(SchemaError(where, error.message, reason))
        return errors

    def assumption_used(self, pointer: str, instance: Any, depth: int = 0) -> str | None:
        """The `x-assumption` of the first assumed element a *valid* instance relies on (e.g. a numeric-string
        `duration`), or None when it is valid by documented elements alone."""
        node = self._pointer(pointer)
        if not isinstance(node, dict) or depth > 32:
            return None
        if node.get(ASSUMPTION_KEY):
            return str(node[ASSUMPTION_KEY])
        if "$ref" in node:
            return self.assumption_used(node["$ref"], instance, depth + 1)
        for index, _ in enumerate(node.get("allOf", [])):
            found = self.assumption_used(f"{pointer}/allOf/{index}", instance, depth + 1)
            if found:
                return found
        for key in ("oneOf", "anyOf"):
            alternatives = node.get(key, [])
            branch = self._discriminated_branch([*pointer[2:].split("/"), key], instance) if alternatives else None
            if branch is not None:
                return self.assumption_used(branch, instance, depth + 1)
            for index, _ in enumerate(alternatives):
                if not self.validate(f"{pointer}/{key}/{index}", instance):
                    return self.assumption_used(f"{pointer}/{key}/{index}", instance, depth + 1)
        if isinstance(instance, dict):
            for name, value in instance.items():
                if name in node.get("properties", {}):
                    found = self.assumption_used(f"{pointer}/properties/{_escape(name)}", value, depth + 1)
                    if found:
                        return found
        if isinstance(instance, list) and isinstance(node.get("items"), dict):
            for value in instance:
                found = self.assumption_used(f"{pointer}/items", value, depth + 1)
                if found:
                    return found
        return None

    def _discriminated_branch(self, absolute: list[str | int], instance: Any) -> str | None:
        """For a failed `oneOf` with a discriminator, the branch the instance names (to report its real error)."""
        if absolute[-1:] != ["oneOf"] or not isinstance(instance, dict):
            return None
        try:
            node = self._pointer(openapi.ref(*absolute[:-1]))
        except (KeyError, IndexError, TypeError, ValueError):
            return None
        discriminator = node.get("discriminator") if isinstance(node, dict) else None
        if not isinstance(discriminator, dict):
            return None
        ref = discriminator.get("mapping", {}).get(instance.get(discriminator.get("propertyName")))
        return ref if isinstance(ref, str) else None

    def _assumption_along(
        self, pointer: str, evaluation: Sequence[str | int], absolute: Sequence[str | int]
    ) -> str | None:
        # The evaluation path goes through every $ref (so a mark beside a $ref is seen); the absolute path is
        # the final location only. Either carrying a mark makes the violated element an assumption.
        return self._walk({"$ref": pointer}, evaluation) or self._walk(self.document, absolute)

    def _walk(self, node: Any, path: Sequence[str | int]) -> str | None:
        try:
            for part in path:
                mark = node.get(ASSUMPTION_KEY) if isinstance(node, dict) else None
                if mark:
                    return str(mark)
                node = self._pointer(node["$ref"]) if part == "$ref" else node[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
        mark = node.get(ASSUMPTION_KEY) if isinstance(node, dict) else None
        return str(mark) if mark else None


def _escape(path: str) -> str:
    return quote(openapi.escape(path), safe="~")  # percent-encoded too: a pointer inside a URI fragment


def _enum_at(spec: ContractSpec, schema: Any, path: tuple[str, ...], depth: int = 0) -> Iterator[str]:
    schema = spec.resolve(schema)
    if not isinstance(schema, dict) or depth > 16:
        return
    if not path:
        if "const" in schema:
            yield str(schema["const"])
        yield from (str(value) for value in schema.get("enum", []))
    else:
        child = schema.get("properties", {}).get(path[0])
        if child is not None:
            yield from _enum_at(spec, child, path[1:], depth + 1)
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(key, []):
            yield from _enum_at(spec, sub, path, depth + 1)


@functools.cache
def load() -> ContractSpec:
    """The project's spec, parsed once per process."""
    return ContractSpec(openapi.load_spec())
