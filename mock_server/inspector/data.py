"""What each inspector section shows, computed from the mock's parts for one request's query: a page of rows.

Each view is `view(request, ctx) -> dict` (JSON-able); `routes` serves them as endpoints and in the stream.
Lists are pages (`offset`, `limit`, `more`); filters the store cannot apply scan at most the newest 10,000 tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request

from mock_server import wire
from mock_server.context import MockContext
from mock_server.errors import InvalidParams, NotFound
from mock_server.inspector import views
from mock_server.inspector.capture import BodyLog
from mock_server.journal import mask_key
from mock_server.lifecycle import Status
from mock_server.store import TaskFilter
from mock_server.webhooks.journal import DeliveryStatus

__all__ = [
    "VIEWS",
    "View",
    "credits_view",
    "detail",
    "request_bodies_view",
    "requests_view",
    "rules_view",
    "task_detail_view",
    "tasks_view",
    "webhooks_view",
]

_OWN = ("/_mock/ui", "/_mock/inspector")
View = Callable[[Request, MockContext], Any]
_SCAN = 10_000  # the most tasks a filter on the function or a key's last characters looks through


def _bodies(request: Request) -> BodyLog | None:
    log: BodyLog | None = getattr(request.app.state, "inspector_bodies", None)
    return log


def _clock(ctx: MockContext) -> dict[str, Any]:
    return {"now": ctx.clock.now(), "clock": type(ctx.clock).__name__, "time_scale": ctx.settings.time_scale}


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
    found = ctx.find_tasks(  # a function or key suffix filter looks through the newest _SCAN tasks
        TaskFilter(key=exact, status=status, model=model, function=function, key_suffix=suffix or None),
        limit=page.limit + 1,  # one more: whether a next page follows
        within=_SCAN if function or suffix else None,
        offset=page.offset,  # the store skips them (Redis without a filter: reads none of them)
    )
    rows, more = found[: page.limit], len(found) > page.limit
    return {"data": [views.task_row(p) for p in rows], "offset": page.offset, "more": more, "clock": _clock(ctx)}


def _url(item: Any) -> str:
    """An output item's file URL: `{"type": "image", "image": URL}` (the spec's shape) or a bare URL."""
    if isinstance(item, Mapping):
        value = item.get(str(item.get("type")))
        return str(value) if value is not None else next((str(v) for v in item.values() if "/files/" in str(v)), "")
    return str(item)


def detail(request: Request, ctx: MockContext, task_id: str, request_id: str | None = None) -> dict[str, Any] | None:
    base_url = str(request.base_url).rstrip("/")
    p = ctx.store.get(task_id)
    body: Mapping[str, Any] | None = None
    if p is None:
        sourced = ctx.sourced(task_id)  # a replayed task: its answer is the recording's
        if sourced is None:
            return None
        p, source = sourced
        body = source.body(task_id, ctx.clock.now(), base_url)
    if body is None:
        body = ctx.service.body(p, request_id, base_url=base_url)
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
    found = detail(request, ctx, task_id)
    if found is None:
        raise NotFound(f"task_id: no task {task_id!r} in the mock (reset forgets every task)")
    return found


def webhooks_view(request: Request, ctx: MockContext) -> dict[str, Any]:
    q = request.query_params
    page = views.page_params(q)
    if ctx.webhooks is None:
        return {"data": [], "offset": page.offset, "more": False, "clock": _clock(ctx)}
    status = q.get("status") or None
    allowed = [str(s) for s in DeliveryStatus]  # `gone` too (the page's filter offers it)
    if status is not None and status not in allowed:
        raise InvalidParams(f"status: {status!r} is not one of {allowed}")
    found = ctx.webhooks.list(task_id=q.get("task_id") or None, status=status, newest=page.end, skip=page.offset)
    found.reverse()  # newest first, from the page's first row (the store skipped those before it)
    rows, more = found[: page.limit], len(found) > page.limit
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
    for e in ctx.journal.current():  # every process's on a shared store (mock_server.journal)
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
    return {
        "data": data,
        "offset": page.offset,
        "more": more,
        "errors": len(ctx.journal.errors),
        "clock": _clock(ctx),
        "worker": ctx.worker(),  # `--workers N`: the worker serving the page, with the bodies it answered
    }


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
    """Configured balances first, then every key the store holds credits for (`Store.credit_keys`: before, the
    keys of the newest 10,000 tasks, which on Redis meant decoding them all: ~400 ms per refresh, 2026-12-04)."""
    keys = dict.fromkeys(ctx.settings.balances)
    keys.update(dict.fromkeys(ctx.store.credit_keys()))
    rows = []
    for key in keys:
        total = ctx.service.total_credits(key)
        used = ctx.store.usage(key)
        rows.append(
            {
                "key": mask_key(key),
                "total": total,
                "used": used,
                "remaining": None if total is None else total - used,
            }
        )
    return {"data": rows, "clock": _clock(ctx)}


def rules_view(request: Request, ctx: MockContext) -> dict[str, Any]:
    import yaml  # lazily: PyYAML costs ~20 ms at startup (bench/bench_startup.py)

    rules = [dict(r.raw) for r in ctx.service.rules]
    return {"rules": rules, "yaml": yaml.safe_dump(rules, sort_keys=False, allow_unicode=True) if rules else "[]\n"}


VIEWS: dict[str, View] = {
    "tasks": tasks_view,
    "webhooks": webhooks_view,
    "requests": requests_view,
    "credits": credits_view,
    "rules": rules_view,
}
