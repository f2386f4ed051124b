"""Who may reach the mock from a browser or the network: the Host, Origin and token rules.

Pure: functions of the request's header strings and the settings; `middleware` applies them and renders
the refusal through the one error renderer. The threats (docs/control-surface.md, "Safety"):

- DNS rebinding: a page on `rebind.example` whose name later resolves to 127.0.0.1 reads the mock with
  `Host: rebind.example`. Refused (421) on every path for connections that arrive on a loopback address,
  unless the name is in `allowed_hosts`. Clients on other interfaces (a non-loopback bind) use names the
  mock cannot know (a container name, a LAN address), so only a configured `allowed_hosts` applies there.
- Cross-site requests: a page on any site POSTs `/_mock/reset` (no preflight for a form post). A
  state-changing `/_mock` request whose `Origin` is not the mock's own, or with `Sec-Fetch-Site:
  cross-site`, is refused (403).
- Other machines: a client that is not on loopback, or that names the mock by a non-loopback Host, needs
  the token (`admin_token`, generated and printed by `serve` when bound to a non-loopback interface).
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from urllib.parse import parse_qsl

from mock_server.webhooks.policy import is_loopback  # the one reading of a loopback name or address

__all__ = [
    "SAFE_METHODS",
    "TOKEN_COOKIE",
    "TOKEN_HEADER",
    "AccessPolicy",
    "Refusal",
    "host_name",
    "is_loopback_name",
    "query_token",
]

TOKEN_HEADER = "x-mock-token"
TOKEN_COOKIE = "shuyou_mock_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Starlette's TestClient and httpx in-process transports default to Host "testserver" (client "testclient"):
# no socket, nothing a browser can reach, and not a name a public DNS answers.
_IN_PROCESS_HOST = "testserver"
_IN_PROCESS_CLIENT = "testclient"
_UNSPECIFIED = ("0.0.0.0", "::")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: the HTTP status (401, 403 or 421) and a message naming the header and rule."""

    status: int
    message: str


def host_name(host_header: str) -> str:
    """The name in a Host header, lower case, without port, brackets or a trailing dot."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def is_loopback_name(name: str) -> bool:
    """localhost, *.localhost (RFC 6761), 127.0.0.0/8 and ::1."""
    return name == _IN_PROCESS_HOST or name.endswith(".localhost") or is_loopback(name)


def _is_loopback_client(client_host: str) -> bool:
    return client_host == _IN_PROCESS_CLIENT or is_loopback(client_host)


def _matches(name: str, patterns: tuple[str, ...]) -> bool:
    """Django's ALLOWED_HOSTS forms: an exact name, `.example.com` (it and its subdomains), or `*`."""
    for pattern in patterns:
        if pattern in ("*", name) or (pattern.startswith(".") and (name == pattern[1:] or name.endswith(pattern))):
            return True
    return False


def query_token(query: str) -> str | None:
    """The `token` parameter of a query string (the inspector's `?token=` link), if any."""
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == "token":
            return value
    return None


def _origin(scheme: str, host: str) -> str:
    """`scheme://host[:port]` lower case, without the scheme's default port (how browsers serialize Origin)."""
    host = host.strip().lower()
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and host.endswith(default):
        host = host[: -len(default)]
    return f"{scheme}://{host}"


def _on_loopback_socket(local_host: str) -> bool:
    """The connection arrived on a loopback address (scope["server"]); a name there means no TCP socket at all."""
    try:
        return ipaddress.ip_address(local_host).is_loopback
    except ValueError:  # a unix socket or an in-process transport: no browser can be rebound onto those
        return False


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The access rules of one app: the extra allowed hosts and the token."""

    allowed_hosts: tuple[str, ...] = ()
    token: str | None = None

    @classmethod
    def from_settings(cls, allowed_hosts: tuple[str, ...], token: str | None) -> AccessPolicy:
        return cls(tuple(p.lower().rstrip(".") for p in allowed_hosts), token)

    def host_refusal(self, host_header: str | None, local_host: str) -> Refusal | None:
        """421 when Host names neither loopback nor an allowed host (a DNS-rebinding page).

        Checked on connections that arrived on a loopback address, whatever the bind (only a local program
        connects there, and a browser names it by a foreign name only when rebound), and on every connection
        once `allowed_hosts` is set; clients on other interfaces use names the mock cannot know.
        """
        if host_header is None:  # no Host: HTTP/1.0 by hand, never a browser
            return None
        if not self.allowed_hosts and not _on_loopback_socket(local_host):
            return None
        name = host_name(host_header)
        # 0.0.0.0 and :: in a URL mean "this machine" to browsers, which then connect over loopback
        if is_loopback_name(name) or name in _UNSPECIFIED or _matches(name, self.allowed_hosts):
            return None
        return Refusal(
            421,
            f"Host: {host_header!r} is not a loopback name or address nor one of allowed_hosts "
            f"{list(self.allowed_hosts)}; a page reaching the mock under another name is refused (DNS rebinding). "
            "Add the name to allowed_hosts (MOCK_ALLOWED_HOSTS) if you meant it",
        )

    def origin_refusal(
        self, method: str, scheme: str, host_header: str | None, origin: str | None, fetch_site: str | None
    ) -> Refusal | None:
        """403 for a state-changing request sent by a page of another site."""
        if method in SAFE_METHODS:
            return None
        if fetch_site == "cross-site":
            return Refusal(
                403,
                f"Sec-Fetch-Site: 'cross-site' on {method}: the control surface refuses state-changing requests "
                "from other sites' pages; use the mock's own inspector (/_mock/ui), curl or a test client",
            )
        if origin is None:
            return None
        own = _origin(scheme, host_header or "")
        their_scheme, _, their_host = origin.partition("://")
        if _origin(their_scheme.lower(), their_host) != own:  # "null" (a sandboxed page) never matches
            return Refusal(
                403,
                f"Origin: {origin!r} is not the mock's own origin {own!r}; the control surface refuses "
                f"state-changing requests ({method}) from other sites' pages",
            )
        return None

    def is_token(self, presented: str) -> bool:
        """`presented` is the token (compared in constant time)."""
        return self.token is not None and hmac.compare_digest(presented.encode(), self.token.encode())

    def token_refusal(
        self, client_host: str, host_header: str | None, presented: tuple[str | None, ...]
    ) -> Refusal | None:
        """401/403 unless the client is on loopback (under a loopback or allowed name) or presents the token."""
        name = host_name(host_header) if host_header is not None else "localhost"
        if _is_loopback_client(client_host) and (is_loopback_name(name) or _matches(name, self.allowed_hosts)):
            return None
        if self.token is None:
            return Refusal(
                403,
                f"/_mock: the control surface answers loopback clients only (you are {client_host!r} asking for "
                f"{name!r}); set admin_token and send 'X-Mock-Token: <admin_token>' to reach it from elsewhere",
            )
        given = [p for p in presented if p]
        if not given:
            return Refusal(
                401,
                "X-Mock-Token: missing; from another machine (or under a non-loopback name) the control surface "
                "needs the mock's token (admin_token, printed at startup): send 'X-Mock-Token: <token>' or open "
                "/_mock/ui?token=<token> once",
            )
        if any(self.is_token(p) for p in given):
            return None
        return Refusal(403, "X-Mock-Token: the token does not match admin_token (printed at startup)")
