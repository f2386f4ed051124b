"""One frozen `Settings` object for the whole mock, and the only reader of `MOCK_*` variables.

`Settings.from_mapping()` reads the YAML config (keys = field names); `Settings.from_env(environ)`
applies `MOCK_*` variables; CLI flags map 1:1 onto fields. Every bad value raises `SettingsError` with
the name, the value and what was expected, when the app is created, never on a request.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mock_server.errors import SettingsError
from mock_server.rules import ErrorSpec, Rule, parse_rules
from mock_server.webhooks.settings import WebhookSettings, check_secret

__all__ = ["Price", "RateLimit", "Settings", "WebhookSettings"]

PriceUnit = Literal["image", "second", "1k_chars", "task"]
_UNITS: tuple[str, ...] = ("image", "second", "1k_chars", "task")


@dataclass(frozen=True, slots=True)
class Price:
    """Upstream price: `amount` USD per `per` (an output image, a second of video, 1000 prompt characters, a task)."""

    amount: float
    per: PriceUnit

    @classmethod
    def from_mapping(cls, data: Any, where: str) -> Price:
        if not isinstance(data, Mapping) or "amount" not in data or "per" not in data:
            raise SettingsError(f"{where}: expected {{amount: <number>, per: {'|'.join(_UNITS)}}}, got {data!r}")
        amount, per = data["amount"], data["per"]
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
            raise SettingsError(f"{where}.amount={amount!r} is not a number >= 0")
        if per not in _UNITS:
            raise SettingsError(f"{where}.per={per!r} is not one of {list(_UNITS)}")
        return cls(float(amount), per)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `requests` per `per_seconds` (mock clock) for one key."""

    requests: int
    per_seconds: float = 1.0

    @classmethod
    def from_mapping(cls, data: Any, where: str) -> RateLimit:
        if not isinstance(data, Mapping) or "requests" not in data:
            raise SettingsError(f"{where}: expected {{requests: <int>, per_seconds: <number>}}, got {data!r}")
        requests, per = data["requests"], data.get("per_seconds", 1.0)
        if isinstance(requests, bool) or not isinstance(requests, int) or requests < 1:
            raise SettingsError(f"{where}.requests={requests!r} is not an int >= 1")
        if isinstance(per, bool) or not isinstance(per, int | float) or per <= 0:
            raise SettingsError(f"{where}.per_seconds={per!r} is not a number > 0")
        return cls(requests, float(per))


def _default_prices() -> dict[str, Price]:
    return {"image": Price(0.039, "image"), "video": Price(0.10, "second"), "audio": Price(0.015, "1k_chars")}


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything that decides how the mock behaves. All fields have working defaults."""

    host: str = "127.0.0.1"
    """Interface to bind (CLI only)."""
    port: int = 8000
    """Port to bind (CLI only)."""
    seed: int | None = None
    """Makes ids, failures and file contents reproducible."""
    time_scale: float = 1.0
    """Multiplies every task duration; 0 finishes tasks at once."""
    store: str = "memory"
    """`memory`, `sqlite:///path.db` or `redis://host:port/db` (docs/running.md: choosing a store)."""
    workers: int = 1
    """Server processes (CLI only); more than 1 needs a shared store (sqlite or redis)."""
    webhook_secret: str | None = None
    """`whsec_...` secret(s), comma-separated, that sign webhooks (None: the documented development secret)."""
    durations: Mapping[str, float] = field(default_factory=lambda: {"image": 10.0, "video": 60.0, "audio": 5.0})
    """Seconds a task stays `processing`, per function (DECISIONS 17), before `time_scale`."""
    prices: Mapping[str, Price] = field(default_factory=_default_prices)
    """Default upstream price per function."""
    model_prices: Mapping[str, Price] = field(default_factory=dict)
    """Per-model price overrides."""
    discount_percent: float = 0.75
    """cost = upstream_cost * discount_percent (DECISIONS 5)."""
    keys: tuple[str, ...] | None = None
    """Accepted API keys; None accepts any non-empty bearer key."""
    auth_error_status: int = 401
    """Status for a missing or unknown key: 401 or 403 (DECISIONS 9)."""
    default_balance: float | None = None
    """Credits of every key; None is unlimited."""
    balances: Mapping[str, float] = field(default_factory=dict)
    """Per-key credits, overriding `default_balance`."""
    rate_limit: RateLimit | None = None
    """Per-key rate limit for every key (off by default)."""
    rate_limits: Mapping[str, RateLimit] = field(default_factory=dict)
    """Per-key rate limits overriding `rate_limit`."""
    failure_probability: float = 0.0
    """Chance that a task ends `failed`."""
    error: ErrorSpec | None = None
    """Error injected into create requests, at `error.rate`."""
    latency: float = 0.0
    """Seconds of added latency on every API request (wall time)."""
    rules: tuple[Rule, ...] = ()
    """Behaviour rules, first match wins per field."""
    max_body_bytes: int = 1_048_576
    """Bodies over this answer 413."""
    max_json_depth: int = 32
    """Deeper JSON answers 400."""
    url_ttl: float = 86_400.0
    """Lifetime of result URLs in mock seconds (24 h)."""
    url_secret: str = "shuyou-mock-file-url-secret"
    """HMAC key for result URLs."""
    admin_token: str | None = None
    """Token (`X-Mock-Token`) for /_mock and /metrics from elsewhere; `serve` generates one on a non-loopback bind."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names answered besides loopback (`name`, `.example.com` with subdomains, `*`): DNS-rebinding guard."""
    journal_size: int = 1000
    """Requests kept in the journal."""
    replay: str | None = None
    """Cassette to replay: requests that match a recorded one get its answer (docs/drift.md); None: simulate all."""
    replay_strict: bool = False
    """With `replay`: refuse (404 in the error envelope) what matches no recorded exchange."""
    media_cache_items: int = 64
    """Rendered files kept in memory."""
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    """Webhook delivery settings (the `webhooks:` config section)."""

    def __post_init__(self) -> None:
        # nan and inf pass every `<` test: a task due at inf never finishes, int(now + inf) raises on every poll
        for name in ("time_scale", "latency", "url_ttl"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise SettingsError(f"{name}={value!r} must be a finite number >= 0")
        for key, balance in {"default_balance": self.default_balance, **self.balances}.items():
            if balance is not None and not math.isfinite(balance):
                raise SettingsError(f"balances.{key}={balance!r} must be a finite number (or unset: unlimited)")
        if self.auth_error_status not in (401, 403):
            raise SettingsError(f"auth_error_status={self.auth_error_status!r} must be 401 or 403")
        if not 0 < self.discount_percent <= 1:
            raise SettingsError(f"discount_percent={self.discount_percent!r} must be in (0, 1]")
        if not 0 <= self.failure_probability <= 1:
            raise SettingsError(f"failure_probability={self.failure_probability!r} must be in [0, 1]")
        if not 0 < self.port < 65536 and self.port != 0:
            raise SettingsError(f"port={self.port!r} must be in 0..65535")
        if not (self.store == "memory" or self.store.startswith(("sqlite:///", "redis://"))):
            raise SettingsError(
                f"store={self.store!r}: use 'memory', 'sqlite:///path/to/file.db' or 'redis://host:port/db'"
            )
        if not 1 <= self.workers <= 64:
            raise SettingsError(f"workers={self.workers!r} must be in 1..64")
        if self.workers > 1 and self.store == "memory":
            raise SettingsError(
                f"workers={self.workers}: the memory store lives in one process, so {self.workers} workers would be "
                "that many separate mocks; use --store sqlite:///mock.db or --store redis://127.0.0.1:6379/0"
            )
        if self.max_body_bytes < 1 or self.max_json_depth < 1 or self.journal_size < 1:
            raise SettingsError("max_body_bytes, max_json_depth and journal_size must be >= 1")
        for secret in self.webhook_secrets:
            check_secret(secret, key="webhook_secret")
        for host in self.allowed_hosts:
            if not host or "/" in host or host.count(":") == 1 or any(c.isspace() for c in host):
                raise SettingsError(
                    f"allowed_hosts: {host!r} is not a host name; give the name alone (no scheme, port or path), "
                    "e.g. 'mock.internal', '.example.com' (with subdomains) or '*'"
                )
        for function, seconds in self.durations.items():
            if not math.isfinite(seconds) or seconds < 0:
                raise SettingsError(f"durations.{function}={seconds!r} must be a finite number >= 0")

    @property
    def webhook_secrets(self) -> tuple[str, ...]:
        """`webhook_secret` split on commas (several secrets sign at once during a rotation)."""
        return tuple(part.strip() for part in (self.webhook_secret or "").split(",") if part.strip())

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def duration_for(self, function: str) -> float:
        return float(self.durations.get(function, 10.0))

    def price_for(self, model: str, function: str) -> Price:
        price = self.model_prices.get(model) or self.prices.get(function)
        return price if price is not None else Price(0.0, "task")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: Settings | None = None) -> Settings:
        """Build from a config mapping (the YAML file); unknown keys are an error."""
        base = base or cls()
        if not isinstance(data, Mapping):
            raise SettingsError(f"config: expected a mapping at the top level, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise SettingsError(f"config: unknown key(s) {sorted(unknown)}; known keys: {sorted(names)}")
        changes: dict[str, Any] = {}
        for name, value in data.items():
            changes[name] = _convert(name, value, base)
        try:
            return dataclasses.replace(base, **changes)
        except TypeError as exc:  # pragma: no cover - guarded by _convert
            raise SettingsError(f"config: {exc}") from exc

    @classmethod
    def from_env(cls, environ: Mapping[str, str], base: Settings | None = None) -> Settings:
        """Apply `MOCK_<FIELD>` variables (scalars only) on top of `base`."""
        base = base or cls()
        changes: dict[str, Any] = {}
        for name in (
            "host",
            "port",
            "seed",
            "time_scale",
            "store",
            "webhook_secret",
            "discount_percent",
            "auth_error_status",
            "default_balance",
            "failure_probability",
            "latency",
            "max_body_bytes",
            "max_json_depth",
            "url_ttl",
            "url_secret",
            "admin_token",
            "journal_size",
            "workers",
        ):
            raw = environ.get(f"MOCK_{name.upper()}")
            if raw is None or raw == "":
                continue
            changes[name] = _scalar(name, raw, f"MOCK_{name.upper()}")
        keys = environ.get("MOCK_KEYS")
        if keys:
            changes["keys"] = tuple(k.strip() for k in keys.split(",") if k.strip())
        hosts = environ.get("MOCK_ALLOWED_HOSTS")
        if hosts:
            changes["allowed_hosts"] = tuple(h.strip() for h in hosts.split(",") if h.strip())
        return dataclasses.replace(base, **changes)


_INTS = {
    "port",
    "seed",
    "auth_error_status",
    "max_body_bytes",
    "max_json_depth",
    "journal_size",
    "media_cache_items",
    "workers",
}
_FLOATS = {"time_scale", "discount_percent", "default_balance", "failure_probability", "latency", "url_ttl"}
_STRS = {"host", "store", "webhook_secret", "url_secret", "admin_token", "replay"}


def _scalar(name: str, raw: Any, where: str) -> Any:
    if raw is None and name in {"seed", "default_balance", "webhook_secret", "admin_token", "replay"}:
        return None
    try:
        if name in _INTS:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            return int(raw)
        if name in _FLOATS:
            if isinstance(raw, bool):
                raise ValueError
            return float(raw)
    except (TypeError, ValueError):
        kind = "an int" if name in _INTS else "a number"
        raise SettingsError(f"{where}={raw!r} is not {kind}") from None
    if not isinstance(raw, str):
        raise SettingsError(f"{where}={raw!r} is not a string")
    return raw


def _convert(name: str, value: Any, base: Settings) -> Any:
    if name in _INTS | _FLOATS | _STRS:
        return _scalar(name, value, name)
    if name == "durations":
        if not isinstance(value, Mapping):
            raise SettingsError(f"durations: expected a mapping function -> seconds, got {value!r}")
        out = dict(base.durations)
        for k, v in value.items():
            out[str(k)] = _scalar("time_scale", v, f"durations.{k}")
        return out
    if name in ("prices", "model_prices"):
        if not isinstance(value, Mapping):
            raise SettingsError(f"{name}: expected a mapping name -> {{amount, per}}, got {value!r}")
        merged = dict(base.prices) if name == "prices" else dict(base.model_prices)
        merged.update({str(k): Price.from_mapping(v, f"{name}.{k}") for k, v in value.items()})
        return merged
    if name == "keys":
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(k, str) and k for k in value):
            raise SettingsError(f"keys: expected a list of non-empty strings, got {value!r}")
        return tuple(value)
    if name == "allowed_hosts":
        if not isinstance(value, list) or not all(isinstance(h, str) and h and " " not in h for h in value):
            raise SettingsError(f"allowed_hosts: expected a list of host names (or '.domain', '*'), got {value!r}")
        return tuple(value)
    if name == "balances":
        if not isinstance(value, Mapping):
            raise SettingsError(f"balances: expected a mapping key -> credits, got {value!r}")
        return {str(k): _scalar("default_balance", v, f"balances.{k}") for k, v in value.items()}
    if name == "rate_limit":
        return None if value is None else RateLimit.from_mapping(value, "rate_limit")
    if name == "rate_limits":
        if not isinstance(value, Mapping):
            raise SettingsError(f"rate_limits: expected a mapping key -> {{requests, per_seconds}}, got {value!r}")
        return {str(k): RateLimit.from_mapping(v, f"rate_limits.{k}") for k, v in value.items()}
    if name == "error":
        return None if value is None else ErrorSpec.from_mapping(value, "error")
    if name == "rules":
        return parse_rules(value)
    if name == "replay_strict":
        if not isinstance(value, bool):
            raise SettingsError(f"replay_strict={value!r} is not true or false")
        return value
    if name == "webhooks":
        if not isinstance(value, Mapping):
            raise SettingsError(f"webhooks: expected a mapping, got {value!r}")
        return WebhookSettings.from_mapping(value)
    raise SettingsError(f"config: {name} cannot be set from a file")  # pragma: no cover
