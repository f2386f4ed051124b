"""The inspector's routes: the page `/_mock/ui`, its static files, the paginated data endpoints under
`/_mock/inspector/` and the live stream (documented in openapi/control.yaml and docs/inspector.md).

Live updates come as Server-Sent Events: `GET /_mock/inspector/stream?view=tasks&...` recomputes the
view every 0.5 s of wall time (a UI refresh rate, not mock time) and sends it only when it changed.
A stream ends after 10 s and the browser's EventSource reconnects at once, so an open page adds one
request journal entry per 10 s instead of one per poll, and a server shutting down waits at most 10 s
for it. bench/bench_inspector.py measures what an open page costs the API.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from importlib import resources
from typing import Any

import anyio
import yaml
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from mock_server import wire
from mock_server.context import MockContext
from mock_server.errors import InvalidParams, NotFound
from mock_server.incoming import read_body
from mock_server.inspector import views
from mock_server.inspector.capture import BodyLog
from mock_server.lifecycle import Prediction, Status
from mock_server.responses import json_response

__all__ = ["STREAM_SECONDS", "TICK_SECONDS", "inspector_routes"]

TICK_SECONDS = 0.5
STREAM_SECONDS = 10.0
_SCAN = 10_000  # the most tasks a filter the store cannot apply (function, key suffix) looks through
_OWN = ("/_mock/ui", "/_mock/inspector")
View = Callable[[Request, MockContext], Any]


def _ctx(request: Request) -> MockContext:
    ctx: MockContext = request.app.state.mock
    return ctx


def _bodies(request: Request) -> BodyLog | None:
    log: BodyLog | None = getattr(request.app.state, "inspector_bodies", None)
    return log


def _clock(ctx: MockContext) -> dict[str, Any]:
    return {"now": ctx.clock.now(), "clock": type(ctx.clock).__name__, "time_scale": ctx.settings.time_scale}


def _scan(ctx: MockContext, page: views.Page, keep: Callable[[Prediction], bool], **filters: Any) -> list[Prediction]:
    """Newest-first tasks that pass `keep` (a filter the store cannot apply), in growing batches up to _SCAN."""
    limit = min(page.end * 4, _SCAN)
    while True:
        found = ctx.store.find(limit=limit, **filters)
        kept = [p for p in found if keep(p)]
        if len(kept) >= page.end or len(found) < limit or limit >= _SCAN:
            return kept
        limit = min(limit * 4, _SCAN)


def tasks_view(request: Request, ctx: MockContext) -> dict[str, Any]:
    q = request.query_params
    page = views.page_params(q)
    status = q.get("status") or None
    if status is not None and status not in {s.value for s in Status}:
        raise InvalidParams(f"status: {status!r} is not one of {[s.value for s in Status]}")
    key = q.get("key") or None
    function = q.get("function") or None
    suffix = key.lstrip("….") if key is not None and (key.startswith(("…", "...")) or len(key) <= 4) else None
    exact = key if suffix is None else None
    model = q.get("model") or None
    if function or suffix:
        found = _scan(
            ctx,
            page,
            lambda p: (not function or p.function == function) and (not suffix or p.key.endswith(suffix)),
            key=exact,
            status=status,
            model=model,
        )
    else:
        found = ctx.store.find(key=exact, status=status, model=model, limit=page.end)
    rows, more = views.paginate(found, page)
    return {"data": [views.task_row(p) for p in rows], "offset": page.offset, "more": more, "clock": _clock(ctx)}


def _url(item: Any) -> str:
    """An output item's file URL: `{"type": "image", "image": URL}` (the spec's shape) or a bare URL."""
    if isinstance(item, Mapping):
        value = item.get(str(item.get("type")))
        return str(value) if value is not None else next((str(v) for v in item.values() if "/files/" in str(v)), "")
    return str(item)


def _detail(request: Request, ctx: MockContext, task_id: str, request_id: str | None = None) -> dict[str, Any] | None:
    p = ctx.store.get(task_id)
    if p is None:
        return None
    body = ctx.service.body(p, request_id, base_url=str(request.base_url).rstrip("/"))
    data: Mapping[str, Any] = body.get("data") or {}
    urls = [_url(item) for item in data.get("output") or ()] if isinstance(data.get("output"), list) else []
    outputs = [
        {"kind": o.kind, "format": o.fmt, "width": o.width, "height": o.height, "seconds": o.seconds, "url": url}
        for o, url in zip(p.outputs, urls, strict=False)
    ]
    deliveries = [d.to_record(payload=False) for d in ctx.webhooks.list(task_id=task_id)] if ctx.webhooks else []
    return {
        **views.task_row(p),
        "input": p.input,
        "body": body,
        "outputs": outputs,
        "deliveries": [views.delivery_row(d) for d in deliveries],
        "clock": _clock(ctx),
    }


def task_detail_view(request: Request, ctx: MockContext) -> dict[str, Any]:
    task_id = request.path_params["task_id"]
    detail = _detail(request, ctx, task_id)
    if detail is None:
        raise NotFound(f"task_id: no task {task_id!r} in the mock (reset forgets every task)")
    return detail


def webhooks_view(request: Request, ctx: MockContext) -> dict[str, Any]:
    q = request.query_params
    page = views.page_params(q)
    if ctx.webhooks is None:
        return {"data": [], "offset": page.offset, "more": False, "clock": _clock(ctx)}
    status = q.get("status") or None
    allowed = ("pending", "delivered", "exhausted", "blocked")
    if status is not None and status not in allowed:
        raise InvalidParams(f"status: {status!r} is not one of {list(allowed)}")
    found = ctx.webhooks.list(task_id=q.get("task_id") or None, status=status)
    found.reverse()  # newest first
    rows, more = views.paginate(found, page)
    data = [views.delivery_row(d.to_record(payload=False)) for d in rows]
    return {"data": data, "offset": page.offset, "more": more, "clock": _clock(ctx)}


def requests_view(request: Request, ctx: MockContext) -> dict[str, Any]:
    q = request.query_params
    page = views.page_params(q)
    own = q.get("own") == "1"
    method = (q.get("method") or "").upper() or None
    path = q.get("path") or None
    status_text = q.get("status") or None
    status = wire.decimal(status_text)
    if status_text is not None and status is None:
        raise InvalidParams(f"status: {status_text!r} is not an HTTP status code")
    bodies = _bodies(request)
    found = []
    for e in reversed(list(ctx.journal)):
        if (own or not e.path.startswith(_OWN)) and (
            (method is None or e.method == method)
            and (path is None or path in e.path)
            and (status is None or e.status == status)
        ):
            found.append(e)
            if len(found) >= page.end:
                break
    rows, more = views.paginate(found, page)
    data = [views.request_row(e.as_dict(), bodies is not None and e.request_id in bodies) for e in rows]
    return {"data": data, "offset": page.offset, "more": more, "errors": len(ctx.journal.errors), "clock": _clock(ctx)}


def request_bodies_view(request: Request, ctx: MockContext) -> dict[str, Any]:
    request_id = request.path_params["request_id"]
    bodies = _bodies(request)
    exchange = bodies.get(request_id) if bodies is not None else None
    if exchange is None:
        raise NotFound(f"request_id: no bodies kept for {request_id!r} (the inspector keeps the last 200 requests)")
    return {
        "request_id": request_id,
        "request_body": exchange.request_body,
        "response_body": exchange.response_body,
        "request_truncated": exchange.request_truncated,
        "response_truncated": exchange.response_truncated,
    }


def credits_view(request: Request, ctx: MockContext) -> dict[str, Any]:
    keys = dict.fromkeys(ctx.settings.balances)
    keys.update(dict.fromkeys(p.key for p in ctx.store.find(limit=_SCAN)))
    rows = []
    for key in keys:
        total = ctx.service.total_credits(key)
        used = ctx.store.usage(key)
        rows.append(
            {
                "key": views.mask_key(key),
                "total": total,
                "used": used,
                "remaining": None if total is None else total - used,
            }
        )
    return {"data": rows, "clock": _clock(ctx)}


def rules_view(request: Request, ctx: MockContext) -> dict[str, Any]:
    rules = [dict(r.raw) for r in ctx.service.rules]
    return {"rules": rules, "yaml": yaml.safe_dump(rules, sort_keys=False, allow_unicode=True) if rules else "[]\n"}


VIEWS: dict[str, View] = {
    "tasks": tasks_view,
    "webhooks": webhooks_view,
    "requests": requests_view,
    "credits": credits_view,
    "rules": rules_view,
}


def _endpoint(view: View, *, settle: bool = False) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        ctx = _ctx(request)
        if settle:
            await ctx.scheduler.run_due()
        return json_response(view(request, ctx))

    return endpoint


async def parse_rules_yaml(request: Request) -> Response:
    """YAML text -> `{"rules": [...]}` for `PUT /_mock/rules`; a syntax error names its line and column."""
    ctx = _ctx(request)
    raw = await read_body(request, ctx.settings.max_body_bytes)
    try:
        data = yaml.safe_load(raw.decode("utf-8", "replace")) if raw else []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidParams(f"rules: the YAML does not parse{where}: {problem}") from None
    if isinstance(data, dict) and "rules" in data:
        data = data["rules"]
    if data is None:
        data = []
    if not isinstance(data, list):
        raise InvalidParams(f"rules: expected a YAML list of rules (- name: ...), got a {type(data).__name__}")
    return json_response({"rules": data})


async def stream(request: Request) -> Response:
    ctx = _ctx(request)
    name = request.query_params.get("view", "tasks")
    view = VIEWS.get(name)
    if view is None:
        raise InvalidParams(f"view: {name!r} is not one of {sorted(VIEWS)}")
    view(request, ctx)  # a bad filter answers 400 now, not inside the stream
    detail = request.query_params.get("detail") or None  # a task shown open beside the list
    request_id = request.scope.get("state", {}).get("request_id")  # one Get Prediction request_id per stream

    def snapshot() -> dict[str, Any]:
        data = {"view": name, **view(request, ctx), "errors": len(ctx.journal.errors)}
        if detail is not None:
            data["detail"] = _detail(request, ctx, detail, request_id)
        return data

    async def events() -> AsyncIterator[bytes]:
        yield b"retry: 250\n\n"
        last = b""
        deadline = anyio.current_time() + STREAM_SECONDS
        while anyio.current_time() < deadline:
            await ctx.scheduler.run_due()
            try:
                payload = wire.dumps(snapshot())
            except Exception as exc:  # shown on the page, and journaled like a handler error
                ctx.journal.error(exc)
                payload = json.dumps({"view": name, "error": f"{type(exc).__name__}: {exc}"}).encode()
            if payload != last:
                yield b"data: " + payload + b"\n\n"
                last = payload
            await anyio.sleep(TICK_SECONDS)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


def _page(name: str) -> bytes:
    return resources.files("mock_server.inspector").joinpath("static", name).read_bytes()


async def ui(request: Request) -> Response:
    _ctx(request)
    return Response(
        _page("index.html"),
        media_type="text/html",
        headers={"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'self'; img-src 'self' data:"},
    )


def inspector_routes() -> list[BaseRoute]:
    p = "/_mock/inspector"
    return [
        Route("/_mock/ui", ui, methods=["GET"]),
        Mount("/_mock/ui/static", StaticFiles(packages=[("mock_server.inspector", "static")]), name="inspector"),
        Route(f"{p}/tasks", _endpoint(tasks_view, settle=True), methods=["GET"]),
        Route(f"{p}/tasks/{{task_id}}", _endpoint(task_detail_view, settle=True), methods=["GET"]),
        Route(f"{p}/webhooks", _endpoint(webhooks_view), methods=["GET"]),
        Route(f"{p}/requests", _endpoint(requests_view), methods=["GET"]),
        Route(f"{p}/requests/{{request_id}}", _endpoint(request_bodies_view), methods=["GET"]),
        Route(f"{p}/credits", _endpoint(credits_view), methods=["GET"]),
        Route(f"{p}/rules", _endpoint(rules_view), methods=["GET"]),
        Route(f"{p}/rules/parse", parse_rules_yaml, methods=["POST"]),
        Route(f"{p}/stream", stream, methods=["GET"]),
    ]
