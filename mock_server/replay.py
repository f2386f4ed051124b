"""`shuyou-mock serve --replay run.cassette`: requests that match a recorded one get the recorded answer.

Matching rules (first that applies; docs/drift.md):
1. `X-Mock-Replay: <name>` picks the recorded exchange of that name (`create gpt-image-2`, `credits`, ...);
2. a create matches a recorded create whose body is equal modulo ids (`webhook` ignored, 32-hex ids made
   equal); equal recorded creates are used in their recorded order, the last one again when they run out;
3. a poll of a task created by replay follows the recorded polls of its recorded task on the mock's clock: a
   recorded answer holds from half way after the poll before it (by `elapsed`) to half way to the next one;
4. any other request matches a recorded one with the same method, path and query (the last recorded answer).

Ids are mapped: a replayed create answers a fresh task id, every recorded id in its answers becomes that id,
and its result URLs point at this mock (`/files/<id>/<index>.<ext>?e=&token=`, signed and expiring like any
result URL, `fileurls`), which serves the recorded bytes when the cassette has them and a generated file
otherwise. A request that matches nothing is simulated as usual, or refused with 404 in the error envelope
under `--replay-strict`. Every request to a spec operation needs a key its `security` accepts, as without
`--replay` (the same 401, before any matching).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.context import MockContext
from mock_server.errors import Forbidden, NotFound, SettingsError
from mock_server.fileurls import FileSigner
from mock_server.ids import IdFactory
from mock_server.lifecycle import TERMINAL, Kind, OutputFile, Prediction, Status, Usage
from mock_server.note import note
from mock_server.store import TaskFilter
from openapi.cassette import Cassette, CassetteError, Exchange, read_cassette

__all__ = ["REPLAY_HEADER", "ReplayBook", "ReplayMiddleware", "load_replay"]

REPLAY_HEADER = "x-mock-replay"
_ID = re.compile(r"\b[0-9a-f]{32}\b")
_MIME = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "webp": "image/webp", "mp4": "video/mp4"}
_MIME |= {"mp3": "audio/mpeg", "wav": "audio/wav"}
_STATUSES = frozenset(s.value for s in Status)
_KINDS: dict[str, Kind] = {kind: kind for kind in get_args(Kind)}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class _Replayed:
    recorded: str  # the recorded task id
    created: float  # mock clock
    polls: list[Exchange]
    files: dict[int, Exchange] = field(default_factory=dict)
    key: str = ""  # the key that created it: like any task, it is invisible (404) to every other key
    create: Exchange | None = None  # the recorded create: its request says model, function, input, webhook
    base_url: str = ""

    def timeline(self) -> list[tuple[float, Exchange]]:
        """Each recorded answer with the age from which a poll gets it: the first at once, each next one from
        half way after the poll before it. Between two recorded polls the change happened somewhere; it is taken
        to happen half way, so a poll a few milliseconds off the recorded times (any client's) sees what the
        recording saw."""
        if not self.polls:
            return [(0.0, self.create)] if self.create is not None else []
        out = [(0.0, self.polls[0])]
        for before, after in zip(self.polls, self.polls[1:], strict=False):
            out.append((((before.elapsed or 0.0) + (after.elapsed or 0.0)) / 2, after))
        return out


def _normal(body: Any) -> str:
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "webhook"}
    return _ID.sub("<id>", json.dumps(body, sort_keys=True))


def load_replay(path: str, seed: int | None = None) -> ReplayBook:
    """Read the cassette for `--replay`; a bad file stops the mock at startup (SettingsError)."""
    try:
        return ReplayBook(read_cassette(Path(path)), seed)
    except CassetteError as exc:
        raise SettingsError(f"--replay: {exc}") from None


class ReplayBook:
    """The cassette indexed for answering, and the replayed tasks (new id -> recorded task)."""

    def __init__(self, cassette: Cassette, seed: int | None = None) -> None:
        self.cassette = cassette
        self._seed = seed
        self._ids = IdFactory(None if seed is None else seed + 7919)
        self._creates: dict[str, list[Exchange]] = {}
        self._used: dict[str, int] = {}
        self._named: dict[str, Exchange] = {}
        self._plain: dict[tuple[str, str, str], Exchange] = {}
        self._tasks = cassette.tasks()
        self.replayed: dict[str, _Replayed] = {}
        self.signer: FileSigner | None = None  # the mock's, set by ReplayMiddleware: replayed file URLs are signed
        for ex in cassette.exchanges:
            if ex.name:
                self._named.setdefault(ex.name, ex)
            if ex.operation == "createPrediction" and ex.task:
                self._creates.setdefault(_normal(ex.request_body), []).append(ex)
            elif not ex.task and ex.operation != "file":
                self._plain[(ex.method, ex.path, ex.query)] = ex

    def answer(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: Any,
        now: float,
        base_url: str,
        key: str = "",
    ) -> Answer | None:
        name = headers.get(REPLAY_HEADER)
        if name:
            ex = self._named.get(name)
            return None if ex is None else self._play(ex, now, base_url, key)
        if path.startswith("/files/"):
            return self._file(path, query, now)
        task = path.rstrip("/").rpartition("/")[2]
        if method == "GET" and task in self.replayed:
            # another key's poll falls through to the mock, which knows no such task: 404, as for any task
            return self._poll(task, now, base_url) if self.replayed[task].key == key else None
        if method == "POST":
            recorded = self._creates.get(_normal(body))
            if recorded and recorded[0].path == path:
                shape = _normal(body)
                index = min(self._used.get(shape, 0), len(recorded) - 1)
                self._used[shape] = index + 1
                return self._play(recorded[index], now, base_url, key)
        ex = self._plain.get((method, path, query))
        return None if ex is None else self._render(ex, {}, base_url)

    def _play(self, ex: Exchange, now: float, base_url: str, key: str = "") -> Answer:
        if ex.operation != "createPrediction" or not ex.task or ex.status != 200:
            return self._render(ex, {}, base_url)
        new = self._ids.new()
        exchanges = self._tasks.get(ex.task, [])
        polls = [e for e in exchanges if e.operation == "getPrediction" and e.elapsed is not None]
        files = {int(e.path.rpartition("/")[2].partition(".")[0] or 0): e for e in exchanges if e.operation == "file"}
        self.replayed[new] = _Replayed(ex.task, now, polls, files, key, ex, base_url)
        return self._render(ex, {ex.task: new}, base_url)

    def _poll(self, task: str, now: float, base_url: str) -> Answer | None:
        state = self.replayed[task]
        if not state.polls:
            return None
        current = _current(state.timeline(), now - state.created)
        # signed as of now at the latest: an answer shown before its recorded time (from half-way) must not carry
        # a URL that expires later than any the mock issues now (`FileSigner.problem` refuses that with a 403)
        shown = min(state.created + (current.elapsed or 0.0), now)
        return self._render(current, {state.recorded: task}, base_url, shown)

    # -- the replayed tasks as the control surface and the inspector list them (context.TaskSource) ------------
    def find(self, now: float, where: TaskFilter, *, limit: int) -> list[Prediction]:
        """The replayed tasks as of `now`, newest first, filtered as `Store.find` filters."""
        out: list[Prediction] = []
        for task_id in reversed(self.replayed):
            p = self.get(task_id, now)
            if p is not None and where.keeps(p):
                out.append(p)
                if len(out) >= limit:
                    break
        return out

    def get(self, task_id: str, now: float) -> Prediction | None:
        state = self.replayed.get(task_id)
        return None if state is None else _prediction(task_id, state, now)

    def body(self, task_id: str, now: float, base_url: str) -> dict[str, Any] | None:
        """What a poll of the replayed task answers now (its create's answer when the cassette has no poll)."""
        state = self.replayed.get(task_id)
        if state is None:
            return None
        answer = self._poll(task_id, now, base_url)
        if answer is None and state.create is not None:
            answer = self._render(state.create, {state.recorded: task_id}, base_url)
        body = json.loads(answer.body) if answer is not None and answer.body else None
        return body if isinstance(body, dict) else None

    def reset(self) -> None:
        """`POST /_mock/reset`: forget the replayed tasks, and start the recorded creates and ids over."""
        self.replayed.clear()
        self._used.clear()
        self._ids = IdFactory(None if self._seed is None else self._seed + 7919)

    def _render(self, ex: Exchange, ids: Mapping[str, str], base_url: str, shown: float = 0.0) -> Answer:
        """The recorded answer with `ids` mapped; its file URLs signed to expire `url_ttl` after `shown`."""
        body = ex.response_body
        if body is None:
            return Answer(ex.status, b"", ex.response_headers.get("content-type", "application/json"))
        if not isinstance(body, dict | list):
            return Answer(ex.status, str(body).encode(), ex.response_headers.get("content-type", "text/plain"))
        text = json.dumps(body)
        for old, new in ids.items():
            text = text.replace(old, new)
        value = json.loads(text)
        task = next(iter(ids.values()), None)
        if task is not None:
            _point_files_here(value, task, base_url, self.signer, shown)
        headers = tuple((k, v) for k, v in ex.response_headers.items() if k in {"retry-after"})
        return Answer(ex.status, json.dumps(value).encode(), headers=headers)

    def _file(self, path: str, query: str, now: float) -> Answer | None:
        _, _, task, name = path.split("/", 3) if path.count("/") == 3 else ("", "", "", "")
        state = self.replayed.get(task)
        if state is None:
            return None
        if self.signer is not None:
            q = {k: v[-1] for k, v in parse_qs(query).items()}
            problem = self.signer.problem(task, name, q.get("e"), q.get("token"), now)
            if problem:
                raise Forbidden(f"file URL: {problem} (You have no permission to access this resource)")
        index_text, _, ext = name.partition(".")
        index = int(index_text) if index_text.isdigit() else 0
        recorded = state.files.get(index)
        if recorded is not None and recorded.file is not None and recorded.file.data is not None:
            return Answer(200, recorded.file.data, recorded.file.content_type)
        from mock_server import media  # rendering is heavy: only when a replayed file is fetched

        kinds: dict[str, media.Kind] = {"image/": "image", "video/": "video", "audio/": "audio"}
        kind = kinds.get(_MIME.get(ext, "image/")[:6], "image")
        rendered = media.render(
            kind,
            ext or "png",
            width=1024 if kind == "image" else 1280,
            height=1024 if kind == "image" else 720,
            seconds=5.0 if kind != "image" else 0.0,
            seed=index,
            text=f"replay #{index + 1}",
        )
        return Answer(200, rendered.data, rendered.content_type)


def _current(timeline: Sequence[tuple[float, Exchange]], age: float) -> Exchange:
    current = timeline[0][1]
    for start, ex in timeline:
        if age >= start:
            current = ex
    return current


def _data(ex: Exchange) -> Mapping[str, Any]:
    body = ex.response_body
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) else {}


def _status(ex: Exchange) -> Status:
    """The recorded answer's status; one the mock does not know (a `queued`) shows as processing."""
    text = _data(ex).get("task_status")
    return Status(text) if text in _STATUSES else Status.PROCESSING


def _prediction(task_id: str, state: _Replayed, now: float) -> Prediction:
    """A replayed task as a `Prediction` at `now`: its statuses follow the recording on the mock's clock.

    `due_at` is when the recording's final status applies (its last recorded poll when that is not terminal,
    and then `outcome` is that status); outputs and usage are the final answer's.
    """
    timeline = [(state.created + start, ex) for start, ex in state.timeline()]
    request = state.create.request_body if state.create is not None else None
    order: Mapping[str, Any] = request if isinstance(request, dict) else {}
    seen: list[tuple[float, str]] = []
    for at, ex in timeline:
        if at <= now and (not seen or seen[-1][1] != _status(ex)):
            seen.append((at, str(_status(ex))))
    final_at, final = next(((at, ex) for at, ex in timeline if _status(ex) in TERMINAL), timeline[-1])
    status = Status(seen[-1][1]) if seen else Status.PROCESSING
    body = final.response_body if isinstance(final.response_body, dict) else {}
    return Prediction(
        task_id=task_id,
        key=state.key,
        model=str(order.get("model", "")),
        function=str(order.get("function", "")),
        created_at=state.created,
        due_at=final_at,
        outcome=_status(final),
        status=status,
        finished_at=final_at if status in TERMINAL else None,
        input=dict(order["input"]) if isinstance(order.get("input"), dict) else {},
        webhook=order["webhook"] if isinstance(order.get("webhook"), str) else None,
        base_url=state.base_url,
        outputs=_outputs(_data(final).get("output")),
        usage=_usage(body.get("usage")),
        history=tuple(seen),
    )


def _outputs(output: Any) -> tuple[OutputFile, ...]:
    files = []
    for item in output if isinstance(output, list) else []:
        kind = _KINDS.get(str(item.get("type"))) if isinstance(item, dict) else None
        url = item.get(kind) if kind is not None else None
        if kind is not None and isinstance(url, str):
            ext = url.split("?")[0].rpartition(".")[2].lower()
            files.append(OutputFile(kind, ext, extension=ext))
    return tuple(files)


def _usage(usage: Any) -> Usage | None:
    names = ("upstream_cost", "discount", "discount_percent", "cost")
    if not isinstance(usage, dict) or not all(isinstance(usage.get(n), int | float) for n in names):
        return None
    return Usage(*(float(usage[n]) for n in names))


def _point_files_here(body: Any, task: str, base_url: str, signer: FileSigner | None, shown: float) -> None:
    data = body.get("data") if isinstance(body, dict) else None
    output = data.get("output") if isinstance(data, dict) else None
    for index, item in enumerate(output if isinstance(output, list) else []):
        kind = item.get("type") if isinstance(item, dict) else None
        url = item.get(kind) if isinstance(kind, str) else None
        if isinstance(url, str):
            ext = url.split("?")[0].rpartition(".")[2].lower() or "bin"
            name = f"{index}.{ext}"
            signed = signer.path(task, name, int(shown + signer.ttl)) if signer else f"/files/{task}/{name}"
            item[kind] = base_url + signed


class ReplayMiddleware:
    """Answers matching requests from the cassette; the rest go on to the mock (or are refused when strict)."""

    def __init__(self, app: ASGIApp, context: MockContext, book: ReplayBook, strict: bool = False) -> None:
        self.app, self.context, self.book, self.strict = app, context, book, strict
        book.signer = context.files.signer
        if book not in context.sources:  # /_mock/tasks and the inspector list the replayed tasks too
            context.sources.append(book)
        self._operations = _operations(context.catalog.spec)

    def _authenticate(self, method: str, path: str, headers: Mapping[str, str]) -> str:
        """A spec operation's key check, as without replay: a missing or refused key raises the same 401."""
        operation = next((op for m, pattern, op in self._operations if m == method and pattern.fullmatch(path)), None)
        if operation is None:
            return ""
        credentials = self.context.catalog.credentials[operation]
        return self.context.service.authenticate(credentials.key(headers), credentials.hint())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/_mock", "/openapi.")):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = self._authenticate(scope["method"], scope["path"], headers)  # MockMiddleware renders a 401
        try:
            body = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            body = None
        base_url = f"{scope.get('scheme', 'http')}://{headers.get('host', 'localhost')}"
        query = scope.get("query_string", b"").decode("latin-1")
        answer = self.book.answer(
            scope["method"], scope["path"], query, headers, body, self.context.clock.now(), base_url, key
        )
        if answer is not None:
            raw_headers = [(b"content-type", answer.content_type.encode()), (b"x-mock-replayed", b"1")]
            raw_headers += [(k.encode(), v.encode()) for k, v in answer.headers]
            raw_headers.append((b"content-length", str(len(answer.body)).encode()))
            await send({"type": "http.response.start", "status": answer.status, "headers": raw_headers})
            await send({"type": "http.response.body", "body": answer.body})
            return
        if self.strict:
            from mock_server.responses import error_response

            refusal = (
                f"replay: no recorded exchange matches {scope['method']} {scope['path']} "
                "(--replay-strict refuses requests the cassette does not answer; see docs/drift.md for the rules)"
            )
            note(scope).error("not_found", refusal)
            await error_response(NotFound(refusal))(scope, receive, send)
            return
        sent = False

        async def replay_receive() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await self.app(scope, replay_receive, send)


def _operations(spec: Mapping[str, Any]) -> Sequence[tuple[str, re.Pattern[str], str]]:
    """(METHOD, path pattern, operationId) for every operation of the spec: `{param}` matches one segment."""
    out: list[tuple[str, re.Pattern[str], str]] = []
    for template, item in (spec.get("paths") or {}).items():
        pattern = re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))
        for method, operation in item.items():
            if isinstance(operation, Mapping) and "operationId" in operation:
                out.append((method.upper(), pattern, str(operation["operationId"])))
    return out
