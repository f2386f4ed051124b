"""Where a request may carry its API key: each operation's `security` alternatives, read from the spec.

Rules: no header name is written here. An `http`/`bearer` scheme reads `Authorization: Bearer <key>`; an `apiKey`
scheme `in: header` reads that header's value whole. The first alternative that carries a non-empty key wins, in
the spec's order, and a request with none is told every header it could have sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import openapi
from mock_server.errors import SettingsError

__all__ = ["Credential", "Credentials", "operation_credentials"]


@dataclass(frozen=True, slots=True)
class Credential:
    """One header a key may come in: `header` lower-cased, `scheme` the value's prefix (`bearer`) or None."""

    header: str
    scheme: str | None = None

    def hint(self) -> str:
        if self.header == "authorization" and self.scheme is not None:
            return f"'Authorization: {self.scheme.capitalize()} <key>'"
        return f"'{self.header}: <key>'"


@dataclass(frozen=True, slots=True)
class Credentials:
    """The alternatives of one operation, in the spec's order."""

    accepted: tuple[Credential, ...]

    def key(self, headers: Mapping[str, str]) -> str:
        """The key of the first alternative present in `headers` (lower-case names), or ""."""
        for credential in self.accepted:  # every request reads this: one frame, not one per alternative
            value = headers.get(credential.header)
            if value is None:
                continue
            if credential.scheme is None:
                key = value.strip()
            else:
                scheme, _, token = value.partition(" ")
                key = token.strip() if scheme.lower() == credential.scheme else ""
            if key:
                return key
        return ""

    def hint(self) -> str:
        """ "'Authorization: Bearer <key>', 'x-api-key: <key>' or 'x-goog-api-key: <key>'"."""
        hints = [credential.hint() for credential in self.accepted]
        return hints[0] if len(hints) == 1 else f"{', '.join(hints[:-1])} or {hints[-1]}"


def _credential(name: str, scheme: Any) -> Credential:
    if not isinstance(scheme, Mapping):
        raise SettingsError(f"spec: security scheme {name!r} is not declared in components.securitySchemes")
    kind = scheme.get("type")
    if kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
        return Credential("authorization", "bearer")
    if kind == "apiKey" and scheme.get("in") == "header" and scheme.get("name"):
        return Credential(str(scheme["name"]).lower())
    raise SettingsError(f"spec: security scheme {name!r} ({kind}) is not one the mock reads: use http bearer or apiKey")


def operation_credentials(spec: Mapping[str, Any]) -> dict[str, Credentials]:
    """operationId -> the headers its `security` (or the document's) accepts a key in."""
    schemes = spec.get("components", {}).get("securitySchemes") or {}
    out: dict[str, Credentials] = {}
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, Mapping) or "operationId" not in operation:
                continue
            requirements = operation.get("security", spec.get("security")) or []
            names = list(dict.fromkeys(name for requirement in requirements for name in requirement))
            accepted = tuple(_credential(name, openapi.resolve(spec, schemes.get(name))) for name in names)
            out[operation["operationId"]] = Credentials(accepted)
    return out
