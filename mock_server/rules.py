"""Behaviour rules: what to match (model, function, key, prompt pattern) and what to do about it.

A rule may set: outcome, duration, failure_probability, error (an injected HTTP error), latency, failure
(the failed task's error code/message) and webhook_chaos (the webhook chaos for the task's deliveries).

Rules come from the YAML config (`rules:`) or from `PUT /_mock/rules`; `Rule.from_mapping` is the
one parser for both, and it raises `SettingsError` naming the rule and the field at fault.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mock_server.errors import SettingsError
from mock_server.lifecycle import OUTCOMES
from mock_server.webhooks.settings import WebhookChaos
from mock_server.wire import short

__all__ = ["ErrorSpec", "Match", "Rule", "parse_rules"]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise SettingsError(f"{where}: expected a string or a list of strings, got {value!r}")


def _number(value: Any, where: str, *, low: float = 0.0, high: float = float("inf")) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SettingsError(f"{where}={value!r} is not a number")
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        number = float("inf")
    if not math.isfinite(number) or not low <= number <= high:
        raise SettingsError(f"{where}={short(value)} is out of range [{low}, {high}] (finite numbers only)")
    return number


def _text(value: Any, where: str) -> str:
    """A string field; a YAML scalar such as `code: 500` is read as its text."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SettingsError(f"{where}={short(value)} is not a string")
    return str(value)


def _mapping(value: Any, where: str, fields: str) -> Mapping[str, Any]:
    """An optional sub-mapping (absent or null = empty)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SettingsError(f"{where}: expected a mapping with {fields}, got {short(value)}")
    return value


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """An HTTP error to inject instead of handling the request."""

    status: int = 500
    type: str | None = None  # None: the spec's documented type for `status` (Catalog.error_type)
    message: str = "Injected error"
    rate: float = 1.0

    @classmethod
    def from_mapping(cls, data: Any, where: str) -> ErrorSpec:
        if not isinstance(data, Mapping):
            raise SettingsError(f"{where}: expected a mapping with status/type/message/rate, got {data!r}")
        unknown = set(data) - {"status", "type", "message", "rate"}
        if unknown:
            raise SettingsError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: status, type, message, rate")
        status_value = data.get("status", 500)
        status = int(_number(status_value, f"{where}.status", low=400, high=599))
        if status != status_value:
            raise SettingsError(f"{where}.status={status_value!r} is not an integer HTTP status")
        return cls(
            status=status,
            type=_text(data["type"], f"{where}.type") if "type" in data else None,
            message=_text(data.get("message", "Injected error"), f"{where}.message"),
            rate=_number(data.get("rate", 1.0), f"{where}.rate", high=1.0),
        )


@dataclass(frozen=True, slots=True)
class Match:
    models: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    prompt: re.Pattern[str] | None = None

    def matches(self, *, model: str, function: str, key: str, prompt: str) -> bool:
        return (
            (not self.models or model in self.models)
            and (not self.functions or function in self.functions)
            and (not self.keys or key in self.keys)
            and (self.prompt is None or self.prompt.search(prompt) is not None)
        )


@dataclass(frozen=True, slots=True)
class Rule:
    """When `match` fits a create request, apply the fields that are set (None = leave as is)."""

    name: str
    match: Match = field(default_factory=Match)
    outcome: str | None = None
    duration: float | None = None
    failure_probability: float | None = None
    error: ErrorSpec | None = None
    latency: float | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    webhook_chaos: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_mapping(cls, data: Any, index: int) -> Rule:
        where = f"rules[{index}]"
        if not isinstance(data, Mapping):
            raise SettingsError(f"{where}: expected a mapping, got {data!r}")
        allowed = {
            "name",
            "match",
            "outcome",
            "duration",
            "failure_probability",
            "error",
            "latency",
            "failure",
            "webhook_chaos",
        }
        unknown = set(data) - allowed
        if unknown:
            raise SettingsError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        m = _mapping(data.get("match"), f"{where}.match", "model/function/key/prompt")
        unknown = set(m) - {"model", "function", "key", "prompt"}
        if unknown:
            raise SettingsError(
                f"{where}.match: unknown field(s) {sorted(unknown)}; allowed: model, function, key, prompt"
            )
        pattern = m.get("prompt")
        try:
            compiled = re.compile(pattern) if pattern is not None else None
        except (re.error, TypeError) as exc:
            raise SettingsError(f"{where}.match.prompt={pattern!r} is not a valid regular expression: {exc}") from exc
        outcome = data.get("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise SettingsError(f"{where}.outcome={outcome!r} is not one of {list(OUTCOMES)}")
        failure = _mapping(data.get("failure"), f"{where}.failure", "code/message")
        unknown = set(failure) - {"code", "message"}
        if unknown:
            raise SettingsError(f"{where}.failure: unknown field(s) {sorted(unknown)}; allowed: code, message")

        chaos = data.get("webhook_chaos")
        if chaos is not None:  # validated now, so a bad rule fails when it is set, never at delivery
            WebhookChaos.from_mapping(chaos, prefix=f"{where}.webhook_chaos")

        def opt(name: str, high: float = float("inf")) -> float | None:
            value = data.get(name)
            return None if value is None else _number(value, f"{where}.{name}", high=high)

        return cls(
            name=_text(data.get("name", f"rule-{index}"), f"{where}.name"),
            match=Match(
                models=_strings(m.get("model"), f"{where}.match.model"),
                functions=_strings(m.get("function"), f"{where}.match.function"),
                keys=_strings(m.get("key"), f"{where}.match.key"),
                prompt=compiled,
            ),
            outcome=outcome,
            duration=opt("duration"),
            failure_probability=opt("failure_probability", 1.0),
            error=ErrorSpec.from_mapping(data["error"], f"{where}.error") if data.get("error") is not None else None,
            latency=opt("latency", 60.0),
            failure_code=_text(failure["code"], f"{where}.failure.code") if "code" in failure else None,
            failure_message=_text(failure["message"], f"{where}.failure.message") if "message" in failure else None,
            webhook_chaos=dict(chaos) if chaos is not None else None,
            raw=dict(data),
        )


def parse_rules(data: Any) -> tuple[Rule, ...]:
    """Parse a list of rule mappings (config `rules:` or the body of PUT /_mock/rules)."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise SettingsError(f"rules: expected a list of rules, got {type(data).__name__}")
    return tuple(Rule.from_mapping(item, i) for i, item in enumerate(data))
