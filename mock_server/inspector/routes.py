"""The inspector's routes: the page `/_mock/ui`, its static files, the paginated data endpoints under
`/_mock/inspector/` and the live stream (documented in openapi/control.yaml and docs/inspector.md).

Live updates come as Server-Sent Events: `GET /_mock/inspector/stream?view=tasks&...` recomputes the
view every 0.5 s of wall time (a UI refresh rate, not mock time) and sends it only when it changed.
A stream ends after 10 s and the browser's EventSource reconnects at once, so an open page adds one
request journal entry per 10 s instead of one per poll, and a server shutting down waits at most 10 s
for it. bench/bench_inspector.py measures what an open page costs the API.
"""

from __future__ import annotations

import html
import json
from collections.abc import AsyncIterator, Callable, Iterable
from importlib import resources
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from mock_server import wire
from mock_server.clock import MovableClock
from mock_server.context import MockContext
from mock_server.errors import InvalidParams
from mock_server.incoming import read_body
from mock_server.inspector.data import (
    VIEWS,
    View,
    credits_view,
    detail,
    request_bodies_view,
    requests_view,
    rules_view,
    task_detail_view,
    tasks_view,
    webhooks_view,
)
from mock_server.lifecycle import Status
from mock_server.note import note
from mock_server.responses import json_response
from mock_server.webhooks.journal import DeliveryStatus
from mock_server.webhooks.policy import mask_secrets

__all__ = ["STREAM_SECONDS", "TICK_SECONDS", "inspector_routes"]

TICK_SECONDS = 0.5
STREAM_SECONDS = 10.0


def _ctx(request: Request) -> MockContext:
    ctx: MockContext = request.app.state.mock
    return ctx


def _off_loop(view: View, ctx: MockContext) -> bool:
    """True for a view that reads a shared store (round trips that a hung Redis holds for its timeout; a tasks
    filter that scans: ~125 ms for 10,000 on Redis, 2026-12-04) and otherwise only this process's memory or pure
    code, so it runs on a worker thread, not the event loop: the shared request journal; the webhook deliveries;
    the tasks and credits, unless replayed tasks (a cassette's, changed on the loop) join them."""
    if view is requests_view:
        return ctx.journal.shared
    if view is webhooks_view:
        return ctx.webhooks is not None and ctx.webhooks.shared
    return view in (tasks_view, credits_view) and ctx.reads_off_loop


def _endpoint(view: View) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:  # due tasks are settled by the middleware before a read
        ctx = _ctx(request)
        if _off_loop(view, ctx):
            data = await anyio.to_thread.run_sync(view, request, ctx, abandon_on_cancel=True)
        else:
            data = view(request, ctx)
        return json_response(mask_secrets(data))  # no webhook password in any view

    return endpoint


async def parse_rules_yaml(request: Request) -> Response:
    """YAML text -> `{"rules": [...]}` for `PUT /_mock/rules`; a syntax error names its line and column."""
    ctx = _ctx(request)
    raw = await read_body(request, ctx.settings.max_body_bytes)
    import yaml  # lazily: PyYAML costs ~20 ms at startup (bench/bench_startup.py)

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
    open_task = request.query_params.get("detail") or None  # a task shown open beside the list
    off_loop = _off_loop(view, ctx) and open_task is None  # a task's detail reads the service: on the loop
    if off_loop:  # a bad filter answers 400 now, not inside the stream
        await anyio.to_thread.run_sync(view, request, ctx, abandon_on_cancel=True)
    else:
        view(request, ctx)
    request_id = note(request.scope).request_id  # one Get Prediction request_id per stream

    def snapshot() -> dict[str, Any]:
        data = {"view": name, **view(request, ctx), "errors": len(ctx.journal.errors)}
        watcher = getattr(request.app.state, "config_watcher", None)  # `serve --watch`: as in GET /_mock/config
        if watcher is not None:
            data["config"] = watcher.status.as_dict()
        if open_task is not None:
            data["detail"] = detail(request, ctx, open_task, request_id)
        masked: dict[str, Any] = mask_secrets(data)
        return masked

    def mark(data: dict[str, Any]) -> bytes:
        # What "changed" means: the rows, not the clock's every tick. A running clock counts as changed only
        # when advanced (its lead over the monotonic clock moves); the page extrapolates it in between.
        now = ctx.clock.now()
        moved_only = isinstance(ctx.clock, MovableClock) and not ctx.clock.running
        clock = now if moved_only else round(now - anyio.current_time(), 1)
        same = {**data, "clock": clock}
        if isinstance(data.get("detail"), dict):
            same["detail"] = {**data["detail"], "clock": clock}
        return wire.dumps(same)

    async def events() -> AsyncIterator[bytes]:
        yield b"retry: 250\n\n"
        last = b""
        deadline = anyio.current_time() + STREAM_SECONDS
        while anyio.current_time() < deadline:
            ctx.service.settle_overdue()  # tasks without a timer (`PredictionService._quiet_for`) too
            await ctx.scheduler.run_due()
            try:
                data = await anyio.to_thread.run_sync(snapshot, abandon_on_cancel=True) if off_loop else snapshot()
                seen = mark(data)
                payload = wire.dumps(data) if seen != last else b""
            except Exception as exc:  # shown on the page, and journaled like a handler error
                ctx.journal.error(exc)
                seen = payload = json.dumps({"view": name, "error": f"{type(exc).__name__}: {exc}"}).encode()
            if seen != last:
                yield b"data: " + payload + b"\n\n"
                last = seen
            await anyio.sleep(TICK_SECONDS)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


def _page(name: str) -> bytes:
    return resources.files("mock_server.inspector").joinpath("static", name).read_bytes()


def _options(values: Iterable[str]) -> bytes:
    return "".join(f"<option>{html.escape(v)}</option>" for v in values).encode()


async def ui(request: Request) -> Response:
    """The page, its filters' choices filled in: functions from the spec's catalog, task and delivery statuses."""
    ctx = _ctx(request)
    page = _page("index.html").replace(b"<!--functions-->", _options(ctx.catalog.functions))
    page = page.replace(b"<!--statuses-->", _options(str(s) for s in Status))
    page = page.replace(b"<!--delivery-statuses-->", _options(str(s) for s in DeliveryStatus))
    return Response(
        page,
        media_type="text/html",
        headers={"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'self'; img-src 'self' data:"},
    )


def inspector_routes() -> list[BaseRoute]:
    p = "/_mock/inspector"
    return [
        Route("/_mock/ui", ui, methods=["GET"]),
        Mount("/_mock/ui/static", StaticFiles(packages=[("mock_server.inspector", "static")]), name="inspector"),
        Route(f"{p}/tasks", _endpoint(tasks_view), methods=["GET"]),
        Route(f"{p}/tasks/{{task_id}}", _endpoint(task_detail_view), methods=["GET"]),
        Route(f"{p}/webhooks", _endpoint(webhooks_view), methods=["GET"]),
        Route(f"{p}/requests", _endpoint(requests_view), methods=["GET"]),
        Route(f"{p}/requests/{{request_id}}", _endpoint(request_bodies_view), methods=["GET"]),
        Route(f"{p}/credits", _endpoint(credits_view), methods=["GET"]),
        Route(f"{p}/rules", _endpoint(rules_view), methods=["GET"]),
        Route(f"{p}/rules/parse", parse_rules_yaml, methods=["POST"]),
        Route(f"{p}/stream", stream, methods=["GET"]),
    ]
