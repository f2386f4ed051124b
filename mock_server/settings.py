"""One frozen `Settings` object for the whole mock: its fields are the single source of every key.

`Settings.from_mapping()` reads a config mapping and `Settings.from_env(environ)` the `MOCK_*` variables,
both through `mock_server.convert` (one set of rules, driven by these fields); `serve` derives its flags
from the same fields (`mock_server.config` puts the sources in order). Every bad value raises
`SettingsError` with the name, the value and what was expected, when the app is created, never on a request.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from mock_server.convert import Range, convert, env_mapping
from mock_server.errors import SettingsError
from mock_server.rules import ErrorSpec, Rule, parse_rules
from mock_server.webhooks.settings import WebhookSettings, check_secret

__all__ = ["Price", "RateLimit", "Settings", "WebhookSettings"]

PriceUnit = Literal["image", "second", "1k_chars", "task"]


@dataclass(frozen=True, slots=True)
class Price:
    """Upstream price: `amount` USD per `per` (an output image, a second of video, 1000 prompt characters, a task)."""

    amount: Annotated[float, Range(0)]
    per: PriceUnit


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `requests` per `per_seconds` (mock clock) for one key."""

    requests: Annotated[int, Range(1)]
    per_seconds: Annotated[float, Range(1e-9)] = 1.0


def _default_prices() -> dict[str, Price]:
    return {"image": Price(0.039, "image"), "video": Price(0.10, "second"), "audio": Price(0.015, "1k_chars")}


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything that decides how the mock behaves. All fields have working defaults."""

    host: str = "127.0.0.1"
    """Interface to bind."""
    port: int = 8000
    """Port to bind."""
    seed: int | None = None
    """Makes ids, failures and file contents reproducible."""
    time_scale: float = 1.0
    """Multiplies every task duration; 0 finishes tasks at once."""
    store: str = "memory"
    """`memory`, `sqlite:///path.db` or `redis://host:port/db[?socket_timeout=5]` (docs/running.md: stores)."""
    workers: int = 1
    """Server processes (`serve` only); more than 1 needs a shared store (sqlite or redis)."""
    webhook_secret: str | None = None
    """Alias of `webhooks.secrets`: `whsec_...` secret(s), comma-separated (None: `webhooks.secrets` as set)."""
    durations: Mapping[str, float] = field(
        default_factory=lambda: {"image": 10.0, "video": 60.0, "audio": 5.0}, metadata={"merge": True}
    )
    """Seconds a task stays `processing`, per function (DECISIONS 17), before `time_scale`."""
    prices: Mapping[str, Price] = field(default_factory=_default_prices, metadata={"merge": True})
    """Default upstream price per function."""
    model_prices: Mapping[str, Price] = field(default_factory=dict, metadata={"merge": True})
    """Per-model price overrides."""
    discount_percent: float = 0.75
    """cost = upstream_cost * discount_percent (DECISIONS 5)."""
    keys: tuple[str, ...] | None = None
    """Accepted API keys; None accepts any non-empty bearer key."""
    auth_error_status: int = 401
    """Status for a missing or unknown key: 401 or 403 (DECISIONS 9)."""
    default_balance: float | None = None
    """Credits of every key; None is unlimited."""
    balances: Mapping[str, float | None] = field(default_factory=dict)
    """Per-key credits, overriding `default_balance` (null: unlimited for that key)."""
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
    rules: tuple[Rule, ...] = field(default=(), metadata={"parse": parse_rules})
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
        if self.workers > 1 and self.replay:
            raise SettingsError(
                f"workers={self.workers}: --replay keeps its replayed tasks in the process that created them, so a "
                "poll answered by another worker would get 404; replay with one worker"
            )
        if self.max_body_bytes < 1 or self.max_json_depth < 1 or self.journal_size < 1:
            raise SettingsError("max_body_bytes, max_json_depth and journal_size must be >= 1")
        if self.webhook_secret:  # the alias: its comma-separated secrets become `webhooks.secrets`
            given = tuple(part.strip() for part in self.webhook_secret.split(",") if part.strip())
            for secret in given:
                check_secret(secret, key="webhook_secret")
            if given and given != self.webhooks.secrets:
                object.__setattr__(self, "webhooks", dataclasses.replace(self.webhooks, secrets=given))
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
        """The secrets webhooks are signed with (several during a rotation): the one place to read them."""
        return self.webhooks.secrets

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def duration_for(self, function: str) -> float:
        return float(self.durations.get(function, 10.0))

    def price_for(self, model: str, function: str) -> Price:
        price = self.model_prices.get(model) or self.prices.get(function)
        return price if price is not None else Price(0.0, "task")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: Settings | None = None, where: str = "") -> Settings:
        """Build from a config mapping (the YAML file; keys = field names) on top of `base`."""
        return convert(cls, data, where, base or cls())

    @classmethod
    def from_env(cls, environ: Mapping[str, str], base: Settings | None = None) -> Settings:
        """Apply the `MOCK_<FIELD>` (`MOCK_WEBHOOKS__MAX_ATTEMPTS`) variables on top of `base`."""
        return cls.from_mapping(env_mapping(cls, environ), base, "MOCK_")
