"""The webhook URL policy of DECISIONS 7, at create time and at delivery time.

Rules: pure, no DNS. At create time a webhook must be an absolute `https://` URL, or `http://` to a
loopback host (local development); anything else is rejected (the mock answers 400). At delivery time
only allowlisted hosts receive anything (loopback by default); any other host is journaled as
`blocked` and never contacted, which keeps the mock offline (the docs' examples point at real hosts).

Decided (DECISIONS 7, the spec's `WebhookUrl` pattern says the same, and the harness reads that pattern):
`user:password@` is allowed, as in any absolute URL (RFC 3986 userinfo; the delivery sends it as Basic auth);
the loopback hosts for `http://` are `localhost`, every dotted-quad address in 127.0.0.0/8 (all of it is the
loopback network, RFC 1122 3.2.1.3) and `[::1]`, in that canonical spelling (`127.1` or `[0::1]` are not).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "Allowlist",
    "WebhookUrlRejected",
    "check_create_url",
    "host_of",
    "is_loopback",
    "mask_secrets",
    "mask_userinfo",
    "receiver_of",
]

_LOOPBACK_NAMES = frozenset({"localhost"})  # names other than this one depend on the resolver; not trusted


# `scheme://user:password@`: the password is what a served view replaces with `***` (also inside JSON text,
# where `/` may be written `\/`). A password cannot hold `/ ? # @` unencoded (RFC 3986 3.2.1).
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*:(?:\\?/){2}[^/\\\s:@\"'?#]*):[^/\\\s@\"'?#]+@")


def mask_userinfo(text: str) -> str:
    """`text` with every URL's password shown as `***` (`https://user:***@host/...`); the user name stays."""
    return _USERINFO.sub(r"\1:***@", text) if "@" in text else text


def mask_secrets(value: Any) -> Any:
    """A JSON-able value (a served task, delivery, journal entry or body) with `mask_userinfo` on every string.

    Every view the mock serves goes through this, so a webhook's Basic-auth password is never shown while
    the stored URL, which the delivery uses, keeps it whole.
    """
    if isinstance(value, str):
        return mask_userinfo(value)
    if isinstance(value, dict):
        return {k: mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_secrets(v) for v in value]
    return value


class WebhookUrlRejected(ValueError):
    """The `webhook` field breaks the create-time URL policy; the message names the field and the rule."""


def host_of(url: str) -> str:
    """The lower-case host of `url` without brackets ('' when there is none)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def receiver_of(url: str) -> str:
    """The receiver a delivery goes to, `scheme://host:port` (default port filled in): the unit of isolation."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    return f"{scheme}://{host}:{port or {'https': 443, 'http': 80}.get(scheme, 0)}"


def is_loopback(host: str) -> bool:
    """True for `localhost`, 127.0.0.0/8 and ::1 (no resolution)."""
    host = host.lower().rstrip(".")
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _canonical_loopback(host: str) -> bool:
    """`localhost`, a dotted quad in 127.0.0.0/8 or `::1`: the spellings the spec's WebhookUrl pattern admits."""
    if host in ("localhost", "::1"):
        return True
    octets = host.split(".")
    return len(octets) == 4 and octets[0] == "127" and is_loopback(host)


def check_create_url(url: object, *, field: str = "webhook") -> str:
    """Return `url` if a task may carry it, else raise `WebhookUrlRejected` (→ 400 invalid_params)."""
    rule = "must be an absolute https:// URL, or http:// to a loopback host (localhost, 127.0.0.0/8, [::1])"
    if not isinstance(url, str):
        raise WebhookUrlRejected(f"{field}: {rule}; got a {type(url).__name__}")
    if not url or len(url) > 2048 or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise WebhookUrlRejected(f"{field}: {rule}, at most 2048 characters without spaces; got {url[:80]!r}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookUrlRejected(f"{field}: {rule}; {url[:80]!r} does not parse ({exc})") from None
    host = (parts.hostname or "").lower()
    if parts.netloc.count("@") > 1:  # parsers disagree on which host `a@b@c` names; RFC 3986 has one `@`
        raise WebhookUrlRejected(f"{field}: {rule}; more than one '@' before the host in {url[:80]!r}")
    if parts.scheme not in ("https", "http") or not host:
        raise WebhookUrlRejected(f"{field}: {rule}; got {url[:80]!r}")
    if port == 0:
        raise WebhookUrlRejected(f"{field}: port 0 is not a port; got {url[:80]!r}")
    if parts.scheme == "http" and not _canonical_loopback(host):
        raise WebhookUrlRejected(f"{field}: {rule}; plain http:// to {host!r} is not allowed, use https://")
    return url


class Allowlist:
    """Delivery-time allowlist: `loopback`, exact host names, `*.suffix`, IP addresses and CIDRs."""

    __slots__ = ("_loopback", "_names", "_networks", "_suffixes")

    def __init__(self, entries: Sequence[str]) -> None:
        self._loopback = False
        self._names: set[str] = set()
        self._suffixes: list[str] = []
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for raw in entries:
            entry = raw.strip().lower().strip("[]")
            if entry == "loopback":
                self._loopback = True
            elif entry.startswith("*."):
                self._suffixes.append(entry[1:])
            else:
                try:
                    self._networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    self._names.add(entry.rstrip("."))

    def allows(self, url: str) -> bool:
        """True when `url`'s host may receive a webhook."""
        host = host_of(url).rstrip(".")
        if not host:
            return False
        if self._loopback and is_loopback(host):
            return True
        if host in self._names or any(host.endswith(s) for s in self._suffixes):
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in net for net in self._networks)
