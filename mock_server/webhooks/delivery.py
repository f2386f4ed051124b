"""One HTTP attempt of a webhook, over an injected `httpx2.AsyncClient`.

Rules: the only module of the engine that touches httpx2. Every httpx2 error, and the per-attempt
deadline, are translated once, in `_translated()`, into `DeliveryFailed`; the dispatcher never sees a
foreign exception. Redirects are not followed (a redirect could leave the allowlist). At most
`excerpt_limit` bytes of the answer are read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import anyio

if TYPE_CHECKING:  # httpx2 is imported at the first delivery, not at startup (~75 ms; bench/bench_startup.py)
    from contextlib import AsyncExitStack

    import httpx2

    from mock_server.webhooks.settings import WebhookSettings

__all__ = ["Answer", "DeliveryFailed", "HttpSender", "LazyHttpSender", "WebhookSender", "sender_for"]

FailureKind = Literal["timeout", "connect", "transport"]


class DeliveryFailed(Exception):
    """An attempt got no HTTP answer: timeout, refused connection or broken transport."""

    def __init__(self, kind: FailureKind, message: str, latency_ms: float = 0.0) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind: FailureKind = kind
        self.latency_ms = latency_ms


@dataclass(frozen=True, slots=True)
class Answer:
    """What the receiver answered to one attempt."""

    status_code: int
    retry_after: str | None
    excerpt: str
    latency_ms: float


class WebhookSender(Protocol):
    """Sends one attempt; raises `DeliveryFailed` when there is no HTTP answer."""

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer: ...


@contextmanager
def _translated(timeout: float) -> Iterator[None]:
    import httpx2  # loaded by then: a client exists

    try:
        yield
    except TimeoutError as exc:
        raise DeliveryFailed("timeout", f"no answer within {timeout:g} s") from exc
    except httpx2.TimeoutException as exc:
        raise DeliveryFailed("timeout", f"{type(exc).__name__} after at most {timeout:g} s") from exc
    except (httpx2.ConnectError, httpx2.ProxyError) as exc:
        raise DeliveryFailed("connect", str(exc) or type(exc).__name__) from exc
    except (httpx2.TransportError, httpx2.InvalidURL, httpx2.StreamError) as exc:
        raise DeliveryFailed("transport", f"{type(exc).__name__}: {exc}") from exc


class HttpSender:
    """The production `WebhookSender`: POST with a per-attempt deadline and a bounded answer excerpt."""

    __slots__ = ("_client", "_excerpt_limit", "_timeout", "_timer")

    def __init__(
        self,
        client: httpx2.AsyncClient,
        *,
        timeout: float,
        excerpt_limit: int = 512,
        timer: Callable[[], float] = time.perf_counter,  # measures real latency, not mock time
    ) -> None:
        self._client = client
        self._timeout = timeout
        self._excerpt_limit = excerpt_limit
        self._timer = timer

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        started = self._timer()
        try:
            with _translated(self._timeout), anyio.fail_after(self._timeout):
                async with self._client.stream(
                    "POST",
                    url,
                    content=body,
                    headers=dict(headers),
                    timeout=self._timeout,
                    follow_redirects=False,
                ) as response:
                    excerpt = await self._excerpt(response)
        except DeliveryFailed as exc:
            exc.latency_ms = (self._timer() - started) * 1000.0
            raise
        return Answer(
            status_code=response.status_code,
            retry_after=response.headers.get("retry-after"),
            excerpt=excerpt,
            latency_ms=(self._timer() - started) * 1000.0,
        )

    async def _excerpt(self, response: httpx2.Response) -> str:
        if self._excerpt_limit <= 0:
            return ""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():
            chunks.append(chunk)
            size += len(chunk)
            if size >= self._excerpt_limit:
                break
        return b"".join(chunks)[: self._excerpt_limit].decode("utf-8", errors="replace")


class LazyHttpSender:
    """An `HttpSender` over the engine's own client (`KeepAliveTransport`), made at the first delivery.

    Creating the client imports httpx2 and the transport, ~75 ms of CPU that a mock which never sends a webhook
    (or not yet: the first answer waits for nothing) does not pay at startup. Creation has no await, so two
    first deliveries at once still make one client. `aclose()` closes it; a later send makes a new one.
    """

    __slots__ = ("_client", "_excerpt_limit", "_max_idle", "_sender", "_timeout")

    def __init__(self, *, timeout: float, excerpt_limit: int = 512, max_idle_per_host: int = 64) -> None:
        self._timeout = timeout
        self._excerpt_limit = excerpt_limit
        self._max_idle = max_idle_per_host
        self._client: httpx2.AsyncClient | None = None
        self._sender: HttpSender | None = None

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        if self._sender is None:
            import httpx2

            from mock_server.webhooks.transport import KeepAliveTransport

            transport = KeepAliveTransport(max_idle_per_host=self._max_idle)
            self._client = httpx2.AsyncClient(transport=transport, trust_env=False)
            self._sender = HttpSender(self._client, timeout=self._timeout, excerpt_limit=self._excerpt_limit)
        return await self._sender.send(url, headers, body)

    async def aclose(self) -> None:
        client, self._client, self._sender = self._client, None, None
        if client is not None:
            await client.aclose()


def sender_for(settings: WebhookSettings, client: httpx2.AsyncClient | None, stack: AsyncExitStack) -> WebhookSender:
    """`client`'s sender, or (None) our own lazily made client's, which `stack` closes."""
    if client is not None:
        return HttpSender(client, timeout=settings.timeout, excerpt_limit=settings.excerpt_limit)
    lazy = LazyHttpSender(
        timeout=settings.timeout, excerpt_limit=settings.excerpt_limit, max_idle_per_host=settings.receiver_concurrency
    )
    stack.push_async_callback(lazy.aclose)
    return lazy
