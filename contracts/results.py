"""Result files: download every output URL of the lifecycle's succeeded tasks and decode it (`contracts.media`).

Downloads go straight to the URL (a CDN, or the mock's `/files/...`), not through the budget gate: they are
not API calls and cost nothing. Each file is read up to `MAX_BYTES` and for at most `deadline` seconds, so a
huge, endless or trickling body cannot hang the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2

from contracts.findings import Finding, FindingSink, Kind
from contracts.media import REQUESTED_FORMATS, container, media_error, video_seconds
from contracts.polling import TaskOutcome
from contracts.spec import SUCCESS_STATUS, ContractSpec

__all__ = [
    "DURATION_TOLERANCE",
    "MAX_BYTES",
    "Fetch",
    "check_results",
    "download",
    "output_urls",
    "requested_format",
    "requested_images",
    "requested_seconds",
]

MAX_BYTES = 64 * 1024 * 1024
DURATION_TOLERANCE = 0.5  # seconds: a container's length is whole frames, not the exact request
Fetch = Callable[[str], tuple[int, bytes]]


def download(url: str, *, timeout: float = 30.0, deadline: float = 120.0) -> tuple[int, bytes]:
    """(status, first MAX_BYTES of the body); a transport error, or a body still trickling in after `deadline`
    seconds, is status 0 with the reason as the body."""
    started = time.monotonic()
    try:
        with httpx2.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
            content = b""
            for chunk in response.iter_bytes():
                content += chunk
                if len(content) >= MAX_BYTES:
                    break
                if time.monotonic() - started > deadline:
                    return 0, f"still downloading after {deadline:g} s ({len(content)} bytes)".encode()
            return response.status_code, content
    except (httpx2.TransportError, httpx2.TimeoutException, httpx2.InvalidURL) as exc:
        return 0, f"{type(exc).__name__}: {exc}".encode()


def output_urls(spec: ContractSpec, body: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(type, URL) of each output item, the URL field named by the spec's schema for that type."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("task_status") != SUCCESS_STATUS:
        return
    for item in data.get("output") or []:
        if not isinstance(item, dict):
            continue
        kind = str(item.get("type"))
        url = item.get(spec.output_url_fields.get(kind, ""))
        if isinstance(url, str):
            yield kind, url


def requested_images(request: dict[str, Any] | None) -> int | None:
    """How many images the create body asked for: `n`, else `num_images` (gpt-image-2: n wins), if given."""
    given = (request or {}).get("input", {})
    value = given.get("n", given.get("num_images"))
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_count(outcome: TaskOutcome, items: list[tuple[str, str]], sink: FindingSink) -> None:
    wanted = requested_images(outcome.request) if outcome.function == "image" else None
    if wanted is None or not items:
        return
    got = sum(1 for kind, _ in items if kind == "image")
    sink.ran("output_count", failed=got != wanted, operation="getPrediction")
    if got != wanted:
        message = f"{outcome.model}: asked for {wanted} image(s), the task returned {got}"
        sink.add([Finding(Kind.CONTRACT, "output_count", message, "getPrediction", outcome.task_id, 200)])


def check_results(
    spec: ContractSpec, outcomes: list[TaskOutcome], sink: FindingSink, *, fetch: Fetch = download
) -> None:
    for outcome in outcomes:
        items = list(output_urls(spec, outcome.final or {}))
        _check_count(outcome, items, sink)
        for kind, url in items:
            status, content = fetch(url)
            ok = status == 200
            sink.ran("result_download", failed=not ok, operation="getPrediction")
            if not ok:
                reason = content.decode("utf-8", "replace")[:200] if status == 0 else f"answered {status}"
                message = f"{outcome.model}: {kind} result {_short(url)} does not download: {reason}"
                sink.add([Finding(Kind.CONTRACT, "result_download", message, "getPrediction", outcome.task_id, status)])
                continue
            error = media_error(kind, content)
            sink.ran("result_media", failed=error is not None, operation="getPrediction")
            if error is not None:
                message = f"{outcome.model}: {kind} result {_short(url)} ({len(content)} bytes): {error}"
                sink.add([Finding(Kind.CONTRACT, "result_media", message, "getPrediction", outcome.task_id, 200)])
            elif kind == "video":
                _check_duration(outcome, url, content, sink)
            else:
                _check_format(outcome, url, content, sink)


def requested_format(request: dict[str, Any] | None) -> str | None:
    """The container the create body asked for (`output_format`, or speech-2.8-hd's `format`), if it names one."""
    given = (request or {}).get("input", {})
    value = given.get("output_format", given.get("format"))
    return REQUESTED_FORMATS.get(value.lower()) if isinstance(value, str) else None


def _check_format(outcome: TaskOutcome, url: str, content: bytes, sink: FindingSink) -> None:
    wanted = requested_format(outcome.request)
    if wanted is None:
        return
    got = container(content)
    sink.ran("result_format", failed=got != wanted, operation="getPrediction")
    if got != wanted:
        message = f"{outcome.model}: asked for {wanted}, {_short(url)} is {got}"
        sink.add([Finding(Kind.CONTRACT, "result_format", message, "getPrediction", outcome.task_id, 200)])


def requested_seconds(request: dict[str, Any] | None) -> float | None:
    """input.duration of the create body, an integer or a numeric string (DECISIONS 15), if it was given."""
    value = (request or {}).get("input", {}).get("duration")
    try:
        return float(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    except ValueError:
        return None


def _check_duration(outcome: TaskOutcome, url: str, content: bytes, sink: FindingSink) -> None:
    wanted, got = requested_seconds(outcome.request), video_seconds(content)
    if wanted is None or got is None:
        return
    ok = abs(got - wanted) <= DURATION_TOLERANCE
    sink.ran("result_duration", failed=not ok, operation="getPrediction")
    if not ok:
        message = f"{outcome.model}: asked for a {wanted:g} s video, {_short(url)} lasts {got:g} s"
        sink.add([Finding(Kind.CONTRACT, "result_duration", message, "getPrediction", outcome.task_id, 200)])


def _short(url: str) -> str:
    return url.split("?", 1)[0]
