"""Request validation against the spec's per-model schema, with messages that name the path and the rule.

The body's `model` picks the branch of `CreatePredictionRequest`'s oneOf (the discriminator), so the
message is about that model's schema, not a dump of every branch. An over-long prompt is 413
(DECISIONS 11); every other violation is 400 invalid_params (DECISIONS 10).
"""

from __future__ import annotations

import math
from typing import Any

from jsonschema_rs import ValidationErrorKind as K

from mock_server.catalog import Catalog, ModelInfo
from mock_server.errors import InvalidParams, PayloadTooLarge
from mock_server.webhooks.policy import WebhookUrlRejected, check_create_url
from mock_server.wire import json_path, short

__all__ = ["json_path", "validate_create"]


def _branch_error(error: Any) -> Any | None:
    """For a failed oneOf/anyOf, the most telling error: from the branch whose type fits the value."""
    path = list(error.instance_path)
    branches = [list(b) for b in (getattr(error.kind, "context", None) or []) if b]
    for branch in branches:
        if not any(isinstance(e.kind, K.Type) and list(e.instance_path) == path for e in branch):
            return branch[0]
    return None


def _message(error: Any) -> tuple[str, str]:
    """(path, rule) for one jsonschema_rs error."""
    kind = error.kind
    path = list(error.instance_path)
    if isinstance(kind, K.OneOfNotValid | K.AnyOf):
        inner = _branch_error(error)
        if inner is not None:
            return _message(inner)
        types = sorted({t for b in kind.context for e in b if isinstance(e.kind, K.Type) for t in e.kind.types})
        if types:
            return json_path(path), f"{short(error.instance)} is not of type {' or '.join(types)}"
    if isinstance(kind, K.Required):
        return json_path([*path, kind.property]), "is required"
    if isinstance(kind, K.Enum):
        return json_path(path), f"{short(error.instance)} is not one of {list(kind.options)!r}"
    if isinstance(kind, K.Constant):
        return json_path(path), f"{short(error.instance)} must be {kind.expected_value!r}"
    if isinstance(kind, K.Type):
        return json_path(path), f"{short(error.instance)} is not of type {' or '.join(kind.types)}"
    if isinstance(kind, K.MaxLength):
        return json_path(path), f"is longer than {kind.limit} characters"
    if isinstance(kind, K.MinLength):
        return json_path(path), f"is shorter than {kind.limit} characters"
    if isinstance(kind, K.MaxItems):
        return json_path(path), f"has more than {kind.limit} items"
    if isinstance(kind, K.MinItems):
        return json_path(path), f"has fewer than {kind.limit} items"
    if isinstance(kind, K.AdditionalProperties):
        return json_path([*path, kind.unexpected[0]]), "is not an allowed field (additionalProperties is false)"
    if isinstance(kind, K.Pattern) and path == [
        "webhook"
    ]:  # the spec's WebhookUrl pattern is the policy; say it in words
        try:
            check_create_url(error.instance)
        except WebhookUrlRejected as exc:
            return "webhook", str(exc).removeprefix("webhook: ")
    bound = _BOUNDS.get(type(kind))
    if bound is not None:
        return json_path(path), f"{short(error.instance)} is out of range: {bound} {kind.limit}"
    return json_path(path), str(error.message)


_BOUNDS = {
    K.Minimum: "below the minimum of",
    K.Maximum: "above the maximum of",
    K.ExclusiveMinimum: "not above the exclusive minimum of",
    K.ExclusiveMaximum: "not below the exclusive maximum of",
}


def _value_at(body: Any, path: list[str | int]) -> Any:
    for part in path:
        body = body[part]
    return body


def _infinite(value: Any) -> bool:
    """json reads a number past a double's range (1e400) as an infinite float, which the validator sees as null."""
    return isinstance(value, float) and math.isinf(value)


def _fold_case(info: ModelInfo, body: dict[str, Any]) -> None:
    """Spell a case-insensitive enum value (`x-case-insensitive` in the spec) as the enum does: "4k" -> "4K"."""
    fields = body.get("input")
    if not info.case_folds or not isinstance(fields, dict):
        return
    for name, spellings in info.case_folds.items():
        value = fields.get(name)
        if isinstance(value, str):
            fields[name] = spellings.get(value.casefold(), value)


def validate_create(catalog: Catalog, body: dict[str, Any]) -> ModelInfo:
    """Return the model's info, or raise InvalidParams / PayloadTooLarge naming the field and the rule."""
    model = body.get("model")
    if model is None:
        raise InvalidParams("model: is required (Parameter model is required)")
    if not isinstance(model, str):
        raise InvalidParams(f"model: {short(model)} is not of type string")
    info = catalog.models.get(model)
    if info is None:
        raise InvalidParams(f"model: Model {model} is not valid; expected one of {sorted(catalog.models)}")
    _fold_case(info, body)
    if info.validator.is_valid(body):
        return info
    errors = list(info.validator.iter_errors(body))
    for error in errors:
        path = list(error.instance_path)
        if isinstance(error.kind, K.MaxLength) and path and path[-1] == "prompt":
            raise PayloadTooLarge(f"Prompt is too long: {json_path(path)} is longer than {error.kind.limit} characters")
    path = list(errors[0].instance_path)
    if _infinite(_value_at(body, path)):
        raise InvalidParams(f"{json_path(path)}: the number is out of range (past a double's 1.8e308)")
    where, rule = _message(errors[0])
    if where == "function":
        article = "an" if info.function[:1] in "aeiou" else "a"
        rule += f" (model {model} is {article} {info.function} model)"
    raise InvalidParams(f"{where}: {rule}")
