"""How the mock behaves for one API request: the one place that decides outcome, timing and errors.

A create gets a `Plan` (`plan`); every other operation gets an `Injection` (`inject`): the injected error
and latency alone. Both draw an error's rate by the one rule of `draw_error`.

Precedence, per field: an `X-Mock-*` request header, then the first matching rule that sets the field,
then the global settings. Randomness (failure probability, error rate) comes from the injected
`random.Random`, so a `--seed` makes a run reproducible.

Headers: `X-Mock-Outcome: success|failed`, `X-Mock-Duration: <mock seconds>` (not scaled by
time_scale), `X-Mock-Error: <status>[:<type>]`, `X-Mock-Latency: <seconds>`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mock_server.errors import InvalidParams
from mock_server.lifecycle import OUTCOMES, Status
from mock_server.rules import ErrorSpec, Rule
from mock_server.settings import Settings
from mock_server.wire import decimal

__all__ = [
    "HEADER_DURATION",
    "HEADER_ERROR",
    "HEADER_LATENCY",
    "HEADER_OUTCOME",
    "PLAN_HEADERS",
    "Injection",
    "Plan",
    "draw_error",
    "header_error",
    "inject",
    "plan",
]

HEADER_OUTCOME = "x-mock-outcome"
HEADER_DURATION = "x-mock-duration"
HEADER_ERROR = "x-mock-error"
HEADER_LATENCY = "x-mock-latency"
PLAN_HEADERS = frozenset({HEADER_OUTCOME, HEADER_DURATION, HEADER_ERROR, HEADER_LATENCY})  # what `plan` reads


@dataclass(frozen=True, slots=True)
class Plan:
    outcome: Status  # success | failed (lifecycle.OUTCOMES)
    duration: float  # mock seconds until the outcome
    error: ErrorSpec | None = None  # answer with this HTTP error instead
    latency: float = 0.0  # wall seconds to wait before answering
    failure_code: str = "generation_failed"
    failure_message: str = "The task failed (mock outcome)."
    rule: str | None = None
    webhook_chaos: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Injection:
    """What a request other than a create is answered with besides its result: an error, a wait."""

    error: ErrorSpec | None = None  # answer with this HTTP error instead
    latency: float = 0.0  # wall seconds to wait before answering


def draw_error(error: ErrorSpec | None, rng: random.Random) -> ErrorSpec | None:
    """`error` drawn at its rate (the one rule: a rate below 1 draws once, kept when the draw is under it)."""
    if error is not None and error.rate < 1.0 and rng.random() >= error.rate:
        return None
    return error


_NOTHING = Injection()


def inject(settings: Settings, rng: random.Random, headers: Mapping[str, str]) -> Injection:
    """The injected error and latency of a request other than a create: its headers, then the settings."""
    if (
        settings.error is None
        and not settings.latency
        and HEADER_ERROR not in headers
        and HEADER_LATENCY not in headers
    ):
        return _NOTHING  # the common case (every poll of a load test): two lookups, nothing built
    latency = header_latency(headers)
    return Injection(
        error=draw_error(header_error(headers) or settings.error, rng),
        latency=settings.latency if latency is None else latency,
    )


def _float_header(headers: Mapping[str, str], name: str, high: float) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParams(f"header {name}: {raw!r} is not a number of seconds") from None
    if not 0 <= value <= high:
        raise InvalidParams(f"header {name}: {raw!r} is out of range [0, {high:g}]")
    return value


def header_error(headers: Mapping[str, str]) -> ErrorSpec | None:
    """`X-Mock-Error: 503` or `X-Mock-Error: 402:insufficient_credit`."""
    raw = headers.get(HEADER_ERROR)
    if raw is None:
        return None
    status_text, _, error_type = raw.partition(":")
    status = decimal(status_text.strip())
    if status is None or not 400 <= status <= 599:
        raise InvalidParams(f"header {HEADER_ERROR}: {raw[:40]!r} must be '<status 400-599>[:<type>]'")
    return ErrorSpec(status=status, type=error_type.strip() or None, message=f"Injected by {HEADER_ERROR}")


def header_latency(headers: Mapping[str, str]) -> float | None:
    return _float_header(headers, HEADER_LATENCY, 60.0)


def plan(
    settings: Settings,
    rules: Sequence[Rule],
    rng: random.Random,
    *,
    model: str,
    function: str,
    key: str,
    prompt: str,
    headers: Mapping[str, str],
) -> Plan:
    """Decide outcome, duration, injected error and latency for one create request."""
    outcome = headers.get(HEADER_OUTCOME)
    if outcome is not None and outcome not in OUTCOMES:
        raise InvalidParams(f"header {HEADER_OUTCOME}: {outcome!r} is not one of {list(OUTCOMES)}")
    duration = _float_header(headers, HEADER_DURATION, 86_400.0 * 7)
    error = header_error(headers)
    latency = header_latency(headers)
    probability: float | None = None
    code = message = name = None
    chaos: Mapping[str, Any] | None = None
    for rule in rules:
        if not rule.match.matches(model=model, function=function, key=key, prompt=prompt):
            continue
        name = name or rule.name
        outcome = outcome or rule.outcome
        if duration is None and rule.duration is not None:
            duration = rule.duration * settings.time_scale
        probability = rule.failure_probability if probability is None else probability
        error = error or rule.error
        latency = rule.latency if latency is None else latency
        code = code or rule.failure_code
        message = message or rule.failure_message
        chaos = chaos if chaos is not None else rule.webhook_chaos
    if duration is None:
        duration = settings.duration_for(function) * settings.time_scale
    error = draw_error(error or settings.error, rng)
    if outcome is None:
        probability = settings.failure_probability if probability is None else probability
        outcome = "failed" if probability > 0 and rng.random() < probability else "success"
    return Plan(
        outcome=Status(outcome),
        duration=duration,
        error=error,
        latency=settings.latency if latency is None else latency,
        failure_code=code or "generation_failed",
        failure_message=message or f"The task failed: mock outcome for {model}" + (f" (rule {name!r})" if name else ""),
        rule=name,
        webhook_chaos=chaos,
    )
