"""Webhook settings: one frozen dataclass nested in the mock's `Settings` as `webhooks`.

Rules: pure (no I/O). `from_mapping()` reads the YAML `webhooks:` section (or strings from the
environment) and raises `SettingsError` naming the key, the value and the fix, so a bad setting fails
when the app is created, never on a later delivery.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from mock_server.errors import SettingsError
from mock_server.lifecycle import TERMINAL, Status

__all__ = ["DEV_SECRET", "WebhookChaos", "WebhookSettings", "check_secret"]

#: The documented development secret (DECISIONS 6): base64 of b"shuyou-mock-dev-webhook-secret!!".
#: Never use it for anything but local development; pass `--webhook-secret` to choose your own.
DEV_SECRET = "whsec_c2h1eW91LW1vY2stZGV2LXdlYmhvb2stc2VjcmV0ISE="

T = TypeVar("T")


def check_secret(secret: str, *, key: str = "webhooks.secrets") -> str:
    """Return `secret` if it is `whsec_<base64>` with a non-empty key, else raise `SettingsError`."""
    if not isinstance(secret, str) or not secret.startswith("whsec_"):
        raise SettingsError(f"{key}={secret!r} is not a webhook secret: expected 'whsec_<base64>', e.g. {DEV_SECRET!r}")
    try:
        raw = base64.b64decode(secret.removeprefix("whsec_") + "==", validate=False)
    except (binascii.Error, ValueError) as exc:
        raise SettingsError(f"{key}={secret!r}: the part after 'whsec_' is not base64 ({exc})") from None
    if len(raw) < 16:
        raise SettingsError(f"{key}={secret!r}: the key is {len(raw)} bytes; use at least 16 (24-64 is usual)")
    return secret


@dataclass(frozen=True, slots=True)
class WebhookChaos:
    """Webhook chaos for client idempotency tests; everything is off by default."""

    duplicate: float = 0.0
    """Probability that a delivered webhook is sent a second time (same webhook-id)."""
    delay: float = 0.0
    """Seconds of mock time to hold each delivery before its first attempt."""
    out_of_order: bool = False
    """Deliver consecutive deliveries of different tasks in swapped pairs (newer first)."""
    out_of_order_window: float = 1.0
    """Seconds of mock time a delivery waits for a partner to swap with before it goes alone."""
    bad_signature: float = 0.0
    """Probability that the first attempt carries a wrong signature (the retries are signed correctly)."""

    @property
    def active(self) -> bool:
        return bool(self.duplicate or self.delay or self.out_of_order or self.bad_signature)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], *, prefix: str = "webhooks.chaos") -> WebhookChaos:
        """Build from a `chaos:` mapping (config section or a rule's `webhook_chaos`)."""
        if not isinstance(mapping, Mapping):
            raise SettingsError(f"{prefix}={mapping!r} is not a mapping: write e.g. '{{duplicate: 0.5}}'")
        chaos = cls(**_read(cls, dict(mapping), prefix=prefix))
        chaos.check(prefix)
        return chaos

    def check(self, prefix: str = "webhooks.chaos") -> None:
        """Raise `SettingsError` naming `<prefix>.<field>` for a value out of range."""
        for name in ("duplicate", "bad_signature"):
            value = getattr(self, name)
            _check(0 <= value <= 1, name, value, "a probability in [0, 1]", prefix=prefix)
        for name in ("delay", "out_of_order_window"):
            value = getattr(self, name)
            _check(math.isfinite(value) and value >= 0, name, value, "a number of seconds >= 0", prefix=prefix)


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """How the mock delivers webhooks (DECISIONS 6-7)."""

    enabled: bool = True
    """Send webhooks at all; when off, nothing is journaled either."""
    secrets: tuple[str, ...] = (DEV_SECRET,)
    """Active signing secrets, `whsec_<base64>`; one signature per secret (rotation)."""
    fire_on: tuple[str, ...] = tuple(s.value for s in Status if s in TERMINAL)
    """Task events that fire a webhook (terminal states by default)."""
    intermediate: bool = False
    """Also fire on intermediate updates (any event the service reports)."""
    max_attempts: int = 5
    """Attempts per delivery, the first included; then the delivery is `exhausted`."""
    backoff_base: float = 1.0
    """Seconds (mock clock) before the second attempt."""
    backoff_factor: float = 2.0
    """Each further wait is this many times the previous one."""
    backoff_max: float = 300.0
    """Upper bound of one wait, seconds."""
    jitter: float = 0.2
    """Each wait is multiplied by a seeded uniform factor in [1 - jitter, 1 + jitter]."""
    retry_after_max: float = 3600.0
    """A receiver's `Retry-After` is honoured up to this many seconds."""
    stop_on_gone: bool = True
    """A `410 Gone` answer ends the delivery as `gone` (no retry); off, 410 is retried like any failure."""
    timeout: float = 5.0
    """Per-attempt timeout, real seconds (connect + send + answer)."""
    concurrency: int = 128
    """Deliveries in flight at once, to all receivers together."""
    receiver_concurrency: int = 32
    """Deliveries in flight at once to one receiver (scheme, host, port): a slow one cannot hold every sender."""
    allowlist: tuple[str, ...] = ("loopback",)
    """Hosts that may receive webhooks: `loopback`, a host name, `*.suffix`, an IP or a CIDR."""
    excerpt_limit: int = 512
    """Bytes of the receiver's answer kept in the journal."""
    journal_limit: int = 10_000
    """Finished deliveries kept in the journal, the oldest dropped first; pending ones are always kept."""
    timestamp: str = "wall"
    """`webhook-timestamp` source: `wall` (receivers' 5-minute tolerance holds under a fake clock) or `clock`."""
    chaos: WebhookChaos = field(default_factory=WebhookChaos)

    def __post_init__(self) -> None:
        if not self.secrets:
            raise SettingsError("webhooks.secrets is empty: give at least one 'whsec_<base64>' secret")
        for i, secret in enumerate(self.secrets):
            check_secret(secret, key=f"webhooks.secrets[{i}]")
        _check(self.max_attempts >= 1, "max_attempts", self.max_attempts, "an int >= 1")
        _check(self.concurrency >= 1, "concurrency", self.concurrency, "an int >= 1")
        _check(self.receiver_concurrency >= 1, "receiver_concurrency", self.receiver_concurrency, "an int >= 1")
        _check(self.excerpt_limit >= 0, "excerpt_limit", self.excerpt_limit, "an int >= 0")
        _check(self.journal_limit >= 1, "journal_limit", self.journal_limit, "an int >= 1")
        for name in ("backoff_base", "backoff_max", "retry_after_max"):
            value = getattr(self, name)
            _check(math.isfinite(value) and value >= 0, name, value, "a finite number >= 0")
        _check(
            math.isfinite(self.backoff_factor) and self.backoff_factor >= 1,
            "backoff_factor",
            self.backoff_factor,
            ">= 1",
        )
        _check(0 <= self.jitter <= 1, "jitter", self.jitter, "a number in [0, 1]")
        _check(math.isfinite(self.timeout) and self.timeout > 0, "timeout", self.timeout, "a number of seconds > 0")
        _check(self.timestamp in ("wall", "clock"), "timestamp", self.timestamp, "'wall' or 'clock'")
        _check(all(isinstance(e, str) and e for e in self.fire_on), "fire_on", self.fire_on, "a list of event names")
        _check(all(isinstance(h, str) and h for h in self.allowlist), "allowlist", self.allowlist, "a list of hosts")
        self.chaos.check()

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> WebhookSettings:
        """Build from the config's `webhooks:` section; values may be strings (environment)."""
        values = _read(cls, dict(mapping or {}), prefix="webhooks")
        chaos = values.pop("chaos", None)
        if chaos is not None:
            values["chaos"] = WebhookChaos.from_mapping(chaos)
        return cls(**values)


def _check(ok: bool, name: str, value: object, rule: str, *, prefix: str = "webhooks") -> None:
    if not ok:
        raise SettingsError(f"{prefix}.{name}={value!r} is invalid: expected {rule}")


def _read(cls: type[Any], raw: dict[str, Any], *, prefix: str) -> dict[str, Any]:
    known = {f.name: f for f in fields(cls)}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(key).replace("-", "_")
        if name not in known:
            import difflib  # only for a bad key: ~7 ms at startup otherwise

            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(sorted(known))}"
            raise SettingsError(f"{prefix}.{key} is not a setting{hint}")
        if name == "chaos":
            out[name] = value
            continue
        default = getattr(cls(), name) if cls is WebhookChaos else _default(name)
        out[name] = _coerce(value, default, f"{prefix}.{name}")
    return out


def _default(name: str) -> Any:
    return {f.name: f.default for f in fields(WebhookSettings)}[name]


def _coerce(value: Any, default: Any, key: str) -> Any:
    converters: dict[type[Any], Callable[[Any], Any]] = {
        bool: _to_bool,
        int: _to_int,
        float: _to_float,
        str: str,
        tuple: _to_tuple,
    }
    convert = converters[type(default)]
    try:
        return convert(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int too large for a float
        kind = {bool: "a boolean", int: "an int", float: "a number", str: "a string", tuple: "a list"}[type(default)]
        raise SettingsError(f"{key}={value!r} is not {kind}") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return value.strip().lower() in ("1", "true", "yes", "on")
    raise ValueError(value)


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    return int(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    return float(value)


def _to_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise TypeError(value)
