"""What the run talks to: reachability, whether it is our mock (it answers `/_mock/health`), its clock.

Our mock's control surface wants its admin token from clients off loopback (openapi/control.yaml): a run given
one (`--mock-token`, SHUYOU_MOCK_TOKEN) sends it with every request to /_mock, in the header the spec names.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2

import openapi

__all__ = [
    "ENV_MOCK_TOKEN",
    "MOCK_CLOCK_ADVANCE",
    "MOCK_HEALTH",
    "TargetInfo",
    "TargetUnreachable",
    "advance_clock",
    "control_headers",
    "probe",
]

MOCK_HEALTH = "/_mock/health"
MOCK_CLOCK_ADVANCE = "/_mock/clock/advance"
ENV_MOCK_TOKEN = "SHUYOU_MOCK_TOKEN"


@functools.cache
def _token_header() -> str:
    return str(openapi.control_spec()["x-mock-token"]["header"])


def control_headers(token: str | None) -> dict[str, str]:
    """The headers of a request to the mock's /_mock surface: its token, when the run was given one."""
    return {_token_header(): token} if token else {}


class TargetUnreachable(Exception):
    """The base URL does not answer; the message is one line that says what was tried."""


@dataclass(frozen=True, slots=True)
class TargetInfo:
    base_url: str
    is_mock: bool

    @property
    def is_loopback(self) -> bool:
        return (urlsplit(self.base_url).hostname or "") in {"127.0.0.1", "localhost", "::1"}


def probe(base_url: str, *, timeout: float = 10.0, token: str | None = None) -> TargetInfo:
    """One GET of `/_mock/health`: a connection error means unreachable; a 200 means our mock."""
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise TargetUnreachable(f"--base-url {base_url!r} is not an http(s) URL")
    try:
        response = httpx2.get(base_url.rstrip("/") + MOCK_HEALTH, timeout=timeout, headers=control_headers(token))
    except httpx2.TimeoutException:
        raise TargetUnreachable(f"{base_url} did not answer within {timeout:g} s") from None
    except httpx2.TransportError as exc:
        raise TargetUnreachable(f"cannot reach {base_url}: {exc or type(exc).__name__}") from None
    return TargetInfo(base_url, is_mock=_looks_like_our_mock(parts.hostname, response))


def _looks_like_our_mock(host: str, response: httpx2.Response) -> bool:
    # Being taken for the mock lifts the default budget, so a catch-all 200 (an HTML page, a proxy) must not
    # pass, and ShuYou's own hosts never do.
    if host == "shuyou.ai" or host.endswith(".shuyou.ai") or response.status_code != 200:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("status") == "ok" and "time" in body


def advance_clock(client: httpx2.Client, seconds: float, token: str | None = None) -> bool:
    """Move the mock's clock forward; False when the target refused (then the caller waits instead)."""
    response = client.post(MOCK_CLOCK_ADVANCE, json={"seconds": seconds}, headers=control_headers(token))
    return response.status_code < 300
