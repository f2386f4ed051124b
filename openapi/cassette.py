"""The cassette: recorded exchanges with a ShuYou endpoint, one JSON object per line (JSON Lines).

Both halves read it (the harness's `record`/`drift`, the mock's `proxy`/`--replay`), so it lives here, in the
package both may import. Pure: the standard library only, no HTTP.

Format (version 1), documented in docs/drift.md:

    {"cassette": "shuyou", "version": 1, "source": "https://api.shuyou.ai", "tool": "...", "with_files": false}
    {"seq": 0, "name": "create gpt-image-2", "operation": "createPrediction", "task": "<task_id>", "at": 0.01,
     "elapsed": 0.0, "request": {"method": "POST", "path": "/v1/predictions", "query": "", "headers": {...},
     "body": {...}}, "response": {"status": 200, "headers": {...}, "body": {...}, "file": null}}

`at` is seconds since the recording started; `elapsed` is seconds since the create of the exchange's task (the
timing profile: wall time of each poll relative to its create). A result file has `file: {content_type, size,
data}`, `data` being base64 only when recorded `--with-files`.

Secrets never reach the file: `Redactor` replaces API keys, bearer tokens, webhook secrets and signatures,
URL tokens and userinfo by `REDACTED`, in headers, URLs and bodies, and scrubs every known secret value
(the key the recorder was given) from each line before it is written.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "FORMAT",
    "REDACTED",
    "VERSION",
    "Cassette",
    "CassetteError",
    "CassetteWriter",
    "Exchange",
    "FileRecord",
    "Redactor",
    "read_cassette",
]

FORMAT = "shuyou"
VERSION = 1
REDACTED = "REDACTED"  # URL-safe: a redacted token leaves a valid URL

# Headers that say nothing about the API (transport, per-connection) are not kept.
_DROPPED_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server", "host", "upgrade"}
)
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "cookie", "set-cookie", "webhook-signature"}
)
# A header, query parameter or body key is secret when its name contains one of these words.
_SECRET_WORDS = ("secret", "token", "signature", "password", "api-key", "api_key", "apikey", "credential")
_SECRET_NAMES = frozenset({"sig", "key", "auth", "x-amz-security-token"})
# Body keys are matched exactly: `max_tokens` is a model parameter, not a secret.
_SECRET_KEYS = frozenset({"secret", "webhook_secret", "api_key", "apikey", "token", "access_token", "password"})
_SECRET_PATTERNS = (
    re.compile(r"whsec_[A-Za-z0-9+/=_-]+"),
    re.compile(r"(?i)(bearer\s+)[^\s\"']+"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{4,}"),
)


class CassetteError(ValueError):
    """A cassette file that cannot be read: the message names the file, the line and what is wrong."""


def _secret_name(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or lowered in _SECRET_NAMES or any(word in lowered for word in _SECRET_WORDS)


@dataclass(frozen=True, slots=True)
class Redactor:
    """Removes secrets from headers, URLs and bodies; `secrets` are literal values scrubbed from every line."""

    secrets: tuple[str, ...] = ()

    def headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in headers:
            lowered = name.lower()
            if lowered in _DROPPED_HEADERS:
                continue
            out[lowered] = REDACTED if _secret_name(lowered) else self.text(value)
        return out

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2] if "@" in parts.netloc else parts.netloc
        return urlunsplit(parts._replace(netloc=netloc, query=self.query(parts.query)))

    def query(self, query: str) -> str:
        if not query:
            return ""
        pairs = parse_qsl(query, keep_blank_values=True)
        return urlencode([(k, REDACTED if _secret_name(k) else v) for k, v in pairs])

    def text(self, value: str) -> str:
        if value.startswith(("http://", "https://")):
            value = self.url(value)
        for pattern in _SECRET_PATTERNS:
            value = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, value)
        return value

    def body(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.body(item) for item in value]
        if isinstance(value, dict):
            return {k: REDACTED if str(k).lower() in _SECRET_KEYS else self.body(v) for k, v in value.items()}
        return value

    def line(self, line: str) -> str:
        for secret in self.secrets:
            if secret and len(secret) >= 4:
                line = line.replace(secret, REDACTED)
        return line


@dataclass(frozen=True, slots=True)
class FileRecord:
    """A result file: its content type, its size, and its bytes when recorded with `--with-files`."""

    content_type: str
    size: int
    data: bytes | None = None

    def as_dict(self) -> dict[str, Any]:
        encoded = base64.b64encode(self.data).decode("ascii") if self.data is not None else None
        return {"content_type": self.content_type, "size": self.size, "data": encoded}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileRecord:
        raw = data.get("data")
        return cls(str(data["content_type"]), int(data["size"]), base64.b64decode(raw) if raw else None)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One recorded request and its answer."""

    seq: int
    method: str
    path: str
    status: int
    query: str = ""
    request_headers: Mapping[str, str] = field(default_factory=dict)
    request_body: Any = None
    response_headers: Mapping[str, str] = field(default_factory=dict)
    response_body: Any = None
    operation: str = ""
    name: str = ""
    task: str | None = None
    at: float = 0.0
    elapsed: float | None = None
    origin: str = ""
    file: FileRecord | None = None

    def as_dict(self) -> dict[str, Any]:
        request: dict[str, Any] = {"method": self.method, "path": self.path, "query": self.query}
        request["headers"] = dict(self.request_headers)
        request["body"] = self.request_body
        if self.origin:
            request["origin"] = self.origin
        response = {"status": self.status, "headers": dict(self.response_headers), "body": self.response_body}
        response["file"] = self.file.as_dict() if self.file is not None else None
        return {
            "seq": self.seq,
            "name": self.name,
            "operation": self.operation,
            "task": self.task,
            "at": round(self.at, 3),
            "elapsed": None if self.elapsed is None else round(self.elapsed, 3),
            "request": request,
            "response": response,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Exchange:
        request, response = data["request"], data["response"]
        file = response.get("file")
        elapsed = data.get("elapsed")
        return cls(
            seq=int(data["seq"]),
            method=str(request["method"]).upper(),
            path=str(request["path"]),
            status=int(response["status"]),
            query=str(request.get("query") or ""),
            request_headers=dict(request.get("headers") or {}),
            request_body=request.get("body"),
            response_headers={str(k).lower(): str(v) for k, v in (response.get("headers") or {}).items()},
            response_body=response.get("body"),
            operation=str(data.get("operation") or ""),
            name=str(data.get("name") or ""),
            task=data.get("task"),
            at=float(data.get("at") or 0.0),
            elapsed=None if elapsed is None else float(elapsed),
            origin=str(request.get("origin") or ""),
            file=FileRecord.from_dict(file) if isinstance(file, Mapping) else None,
        )


@dataclass(frozen=True, slots=True)
class Cassette:
    header: Mapping[str, Any]
    exchanges: tuple[Exchange, ...]

    def tasks(self) -> dict[str, list[Exchange]]:
        """Each recorded task id with its exchanges (create first, then polls and files), in order."""
        out: dict[str, list[Exchange]] = {}
        for exchange in self.exchanges:
            if exchange.task:
                out.setdefault(exchange.task, []).append(exchange)
        return out


class CassetteWriter:
    """Appends redacted exchanges to a cassette, one flushed line each (a crash loses at most the last one)."""

    def __init__(self, path: Path, *, redactor: Redactor | None = None, **header: Any) -> None:
        self.path = Path(path)
        self.redactor = redactor or Redactor()
        self._lock = threading.Lock()
        self._seq = 0
        self._file: IO[str] = self.path.open("w", encoding="utf-8")
        source = header.pop("source", "")
        first = {"cassette": FORMAT, "version": VERSION, "source": self.redactor.url(source) if source else ""}
        self._line({**first, **header})

    def _line(self, obj: Mapping[str, Any]) -> None:
        text = json.dumps(obj, ensure_ascii=False, sort_keys=False, separators=(",", ":"))
        self._file.write(self.redactor.line(text) + "\n")
        self._file.flush()

    def write(
        self,
        *,
        method: str,
        path: str,
        status: int,
        query: str = "",
        request_headers: Iterable[tuple[str, str]] = (),
        request_body: Any = None,
        response_headers: Iterable[tuple[str, str]] = (),
        response_body: Any = None,
        **rest: Any,
    ) -> Exchange:
        """Redact and append one exchange; returns it as written."""
        r = self.redactor
        with self._lock:
            exchange = Exchange(
                seq=self._seq,
                method=method.upper(),
                path=path,
                status=status,
                query=r.query(query),
                request_headers=r.headers(request_headers),
                request_body=r.body(request_body),
                response_headers=r.headers(response_headers),
                response_body=r.body(response_body),
                origin=r.url(rest.pop("origin", "") or ""),
                **rest,
            )
            self._seq += 1
            self._line(exchange.as_dict())
            return exchange

    @property
    def count(self) -> int:
        """Exchanges written so far."""
        return self._seq

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> CassetteWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise CassetteError(f"cassette {path}: cannot open: {exc.strerror}") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except ValueError as exc:
                raise CassetteError(f"cassette {path} line {number}: not JSON ({exc})") from None


def read_cassette(path: Path) -> Cassette:
    """Read and check a cassette; raises `CassetteError` naming the line at fault."""
    path = Path(path)
    lines = _lines(path)
    first = next(lines, None)
    if first is None or not isinstance(first[1], dict) or first[1].get("cassette") != FORMAT:
        raise CassetteError(
            f'cassette {path}: the first line must be the header {{"cassette": "{FORMAT}", "version": '
            f"{VERSION}, ...}}; record one with `shuyou-contracts record` or `shuyou-mock proxy --record`"
        )
    header = first[1]
    if header.get("version") != VERSION:
        raise CassetteError(f"cassette {path}: version {header.get('version')!r} is not supported (expected {VERSION})")
    exchanges = []
    for number, data in lines:
        try:
            exchanges.append(Exchange.from_dict(data))
        except (KeyError, TypeError, ValueError) as exc:
            raise CassetteError(
                f"cassette {path} line {number}: not an exchange ({type(exc).__name__}: {exc})"
            ) from None
    return Cassette(header, tuple(exchanges))
