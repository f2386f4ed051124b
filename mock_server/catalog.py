"""What the spec says about models, read once from `openapi.load_spec()` and compiled at startup.

Rules: no model, field or enum is written here. The model list is the `CreatePredictionRequest`
discriminator mapping; a model's function is its request schema's `function` enum; input defaults come
from the input schema's `default`s; an input enum marked `x-case-insensitive` takes its values in any
case; validators are compiled once (JSON Schema 2020-12, refs resolved against the spec's components)
and reused for every request. The `error.type`s a status may carry are the enums that
`components.responses` pins per `error.code` (the first one is that status's default); the headers an
operation reads its key from are its `security` (mock_server.credentials).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

import openapi
from mock_server.credentials import Credentials, operation_credentials
from mock_server.errors import SettingsError
from mock_server.rules import Rule

__all__ = ["Catalog", "ModelInfo", "load_catalog"]


class _Validator:
    """A model's request validator, compiled on first use: compiling all 23 at startup took ~100 ms (2026-12-02,
    this shared 2-core machine) that the first answer, often not a create, does not need."""

    __slots__ = ("_compiled", "_schema")

    def __init__(self, schema: dict[str, Any]) -> None:
        self._schema = schema
        self._compiled: jsonschema_rs.Draft202012Validator | None = None

    def _get(self) -> jsonschema_rs.Draft202012Validator:
        compiled = self._compiled
        if compiled is None:  # two threads may both compile once; either result is the same validator
            compiled = self._compiled = jsonschema_rs.Draft202012Validator(self._schema, validate_formats=True)
        return compiled

    def is_valid(self, instance: Any) -> bool:
        return bool(self._get().is_valid(instance))

    def iter_errors(self, instance: Any) -> Iterator[Any]:
        return iter(self._get().iter_errors(instance))


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    function: str
    schema_name: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    validator: Any = field(default=None, repr=False, compare=False)
    fields: frozenset[str] = frozenset()  # the input fields the model's schema declares
    # input field -> {casefolded value: the enum's spelling}, for enums the spec marks `x-case-insensitive`
    case_folds: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Catalog:
    models: Mapping[str, ModelInfo]
    spec: Mapping[str, Any] = field(repr=False)
    error_types: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    credentials: Mapping[str, Credentials] = field(default_factory=dict)  # operationId -> where its key may come

    def error_type(self, status: int) -> str:
        """The documented default `error.type` for an HTTP status (the first the spec lists for it)."""
        documented = self.error_types.get(status)
        if documented:
            return documented[0]
        return "internal_server_error" if status >= 500 else "invalid_params"

    @property
    def functions(self) -> list[str]:
        """The spec's functions (image, video, audio), sorted."""
        return sorted({info.function for info in self.models.values()})

    def check_rules(self, rules: Sequence[Rule], where: str = "rules") -> None:
        """SettingsError naming the first rule that matches a model or function the spec does not have: such a
        rule (a typo, a model renamed) would never match, and nothing would say why."""
        functions = self.functions
        for i, rule in enumerate(rules):
            for model in rule.match.models:
                if model not in self.models:
                    raise SettingsError(
                        f"{where}[{i}].match.model: {model!r} is not a model of the spec, so the rule would never"
                        f" match; expected one of {sorted(self.models)}"
                    )
            for function in rule.match.functions:
                if function not in functions:
                    raise SettingsError(f"{where}[{i}].match.function: {function!r} is not one of {functions}")


def build_catalog(spec: Mapping[str, Any]) -> Catalog:
    """Derive the catalog from a parsed spec; raises SettingsError when a convention is missing."""
    try:
        functions = openapi.models(spec)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    mapping: Mapping[str, str] = spec["components"]["schemas"]["CreatePredictionRequest"]["discriminator"]["mapping"]
    components = {"components": spec["components"]}
    models: dict[str, ModelInfo] = {}
    for model, function in functions.items():
        ref = mapping[model]
        input_props = openapi.properties(spec, openapi.properties(spec, {"$ref": ref}).get("input") or {})
        defaults = {
            name: sub["default"] for name, sub in input_props.items() if isinstance(sub, Mapping) and "default" in sub
        }
        validator = _Validator({"$ref": ref, **components})
        schema_name = ref.rsplit("/", 1)[-1]
        folds = {
            name: {str(value).casefold(): str(value) for value in sub["enum"]}
            for name, sub in input_props.items()
            if isinstance(sub, Mapping) and sub.get("x-case-insensitive") is True and sub.get("enum")
        }
        models[model] = ModelInfo(model, function, schema_name, defaults, validator, frozenset(input_props), folds)
    return Catalog(models=models, spec=spec, error_types=_error_types(spec), credentials=operation_credentials(spec))


def _error_types(spec: Mapping[str, Any]) -> dict[int, tuple[str, ...]]:
    """status -> the `error.type` enum of the reusable response whose `error.code` is that status."""
    out: dict[int, tuple[str, ...]] = {}
    for response in (spec.get("components", {}).get("responses") or {}).values():
        schema = openapi.resolve(spec, response).get("content", {}).get("application/json", {}).get("schema")
        schema = openapi.resolve(spec, schema) or {}
        code: Any = None
        types: Any = None
        for part in [schema, *schema.get("allOf", ())]:
            error = openapi.properties(spec, openapi.properties(spec, part).get("error") or {})
            code = (error.get("code") or {}).get("const", code)
            types = (error.get("type") or {}).get("enum", types)
        if isinstance(code, str) and code.isdigit() and types:
            out[int(code)] = tuple(types)
    return out


@functools.cache
def load_catalog() -> Catalog:
    """The catalog of `openapi/predictions.yaml`, built once per process."""
    return build_catalog(openapi.load_spec())
