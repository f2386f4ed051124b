"""Behaviour rules: what to match (model, function, key, prompt pattern) and what to do about it.

A rule may set: outcome, duration, failure_probability, error (an injected HTTP error), latency, failure
(the failed task's error code/message) and webhook_chaos (the webhook chaos for the task's deliveries).

Rules come from the YAML config (`rules:`) or from `PUT /_mock/rules`; `Rule.from_mapping` reads both
through `mock_server.convert` (the fields below are the schema) and raises `SettingsError` naming the rule
and the field at fault.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from mock_server.convert import OneOf, Range, convert
from mock_server.errors import SettingsError
from mock_server.lifecycle import OUTCOMES
from mock_server.webhooks.settings import WebhookChaos


def _chaos(value: object, where: str) -> Mapping[str, Any] | None:
    """A rule's `webhook_chaos` is kept as written (it overrides only the keys it names); checked by `Rule`."""
    if value is not None and not isinstance(value, Mapping):
        raise SettingsError(f"{where}={value!r} is not a mapping: write e.g. '{{duplicate: 0.5}}'")
    return None if value is None else dict(value)


__all__ = ["ErrorSpec", "Failure", "Match", "Rule", "parse_rules"]


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """An HTTP error to inject instead of handling the request."""

    status: Annotated[int, Range(400, 599)] = 500
    type: str | None = None  # None: the spec's documented type for `status` (Catalog.error_type)
    message: str = "Injected error"
    rate: Annotated[float, Range(0, 1)] = 1.0

    @classmethod
    def from_mapping(cls, data: Any, where: str) -> ErrorSpec:
        return convert(cls, data, where)


@dataclass(frozen=True, slots=True)
class Match:
    models: tuple[str, ...] = field(default=(), metadata={"key": "model"})
    functions: tuple[str, ...] = field(default=(), metadata={"key": "function"})
    keys: tuple[str, ...] = field(default=(), metadata={"key": "key"})
    prompt: re.Pattern[str] | None = None

    def matches(self, *, model: str, function: str, key: str, prompt: str) -> bool:
        return (
            (not self.models or model in self.models)
            and (not self.functions or function in self.functions)
            and (not self.keys or key in self.keys)
            and (self.prompt is None or self.prompt.search(prompt) is not None)
        )


@dataclass(frozen=True, slots=True)
class Failure:
    """The error a failed task reports (None: the mock's default code and message)."""

    code: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """When `match` fits a create request, apply the fields that are set (None = leave as is)."""

    name: str
    match: Match = field(default_factory=Match)
    outcome: Annotated[str | None, OneOf(OUTCOMES)] = None
    duration: Annotated[float | None, Range(0)] = None
    failure_probability: Annotated[float | None, Range(0, 1)] = None
    error: ErrorSpec | None = None
    latency: Annotated[float | None, Range(0, 60)] = None
    failure: Failure = field(default_factory=Failure)
    webhook_chaos: Mapping[str, Any] | None = field(default=None, metadata={"parse": _chaos})
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, metadata={"internal": True})

    @property
    def failure_code(self) -> str | None:
        return self.failure.code

    @property
    def failure_message(self) -> str | None:
        return self.failure.message

    @classmethod
    def from_mapping(cls, data: Any, index: int) -> Rule:
        where = f"rules[{index}]"
        rule = convert(cls, {"name": f"rule-{index}", **data} if isinstance(data, Mapping) else data, where)
        if rule.webhook_chaos is not None:  # validated now, so a bad rule fails when it is set, never at delivery
            WebhookChaos.from_mapping(rule.webhook_chaos, prefix=f"{where}.webhook_chaos")
        return dataclasses.replace(rule, raw=dict(data))


def parse_rules(data: Any, where: str = "rules") -> tuple[Rule, ...]:
    """Parse a list of rule mappings (config `rules:` or the body of PUT /_mock/rules)."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise SettingsError(f"{where}: expected a list of rules, got {type(data).__name__}")
    return tuple(Rule.from_mapping(item, i) for i, item in enumerate(data))
