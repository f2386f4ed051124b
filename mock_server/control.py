"""The control surface `/_mock/...`: inspect and steer the mock (documented in openapi/control.yaml).

Who may call it (loopback, Host, Origin, the token) is decided in `access`, applied by `middleware`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import openapi
from mock_server import wire
from mock_server.clock import MovableClock
from mock_server.context import MockContext
from mock_server.errors import Conflict, InvalidParams, NotFound, SettingsError
from mock_server.incoming import read_body, request_headers
from mock_server.journal import mask_key
from mock_server.lifecycle import Prediction, Status
from mock_server.responses import json_response
from mock_server.store import TaskFilter
from mock_server.webhooks.policy import mask_secrets

__all__ = ["control_routes"]

T = TypeVar("T")


def _ctx(request: Request) -> MockContext:
    ctx: MockContext = request.app.state.mock
    return ctx


async def _json(request: Request, ctx: MockContext) -> Any:
    limit = ctx.settings.max_body_bytes
    raw = await read_body(request, limit)
    content_type = request_headers(request).get("content-type")
    return wire.parse_json_body(raw or b"{}", content_type, max_bytes=limit + 2, max_depth=ctx.settings.max_json_depth)


def _limit(text: str | None) -> int:
    """The `limit` query parameter: 100 when absent, else an integer in [1, 10000]."""
    limit = 100 if text is None else wire.decimal(text)
    if limit is None or not 1 <= limit <= 10_000:
        raise InvalidParams(f"limit: {text!r} must be an integer in [1, 10000]")
    return limit


def task_summary(p: Prediction) -> dict[str, Any]:
    """A task as listed; a webhook URL's password shows as `***` here and in `task_detail` (`mask_secrets`)."""
    return {
        "task_id": p.task_id,
        "key": mask_key(p.key),
        "model": p.model,
        "function": p.function,
        "task_status": str(p.status),
        "created_at": p.created_at,
        "due_at": p.due_at,
        "finished_at": p.finished_at,
        "webhook": mask_secrets(p.webhook),
    }


def task_detail(ctx: MockContext, p: Prediction, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`body`: a replayed task's answer (`serve --replay`), else the mock renders it."""
    detail: dict[str, Any] = mask_secrets(
        {
            **task_summary(p),
            "planned_outcome": str(p.outcome),
            "input": p.input,
            "events": [{"time": t, "task_status": s} for t, s in p.history],
            "outputs": [
                {
                    "kind": o.kind,
                    "format": o.fmt,
                    "extension": o.extension,
                    "width": o.width,
                    "height": o.height,
                    "seconds": o.seconds,
                }
                for o in p.outputs
            ],
            "webhook_chaos": p.webhook_chaos,
            "body": body if body is not None else ctx.service.body(p),
            "webhooks": [d.to_record(payload=False) for d in ctx.webhooks.list(task_id=p.task_id)]
            if ctx.webhooks
            else [],
        }
    )
    return detail


async def health(request: Request) -> Response:
    ctx = _ctx(request)
    return json_response({"status": "ok", "time": ctx.clock.now(), "models": len(ctx.catalog.models)})


async def reset(request: Request) -> Response:
    ctx = _ctx(request)
    if ctx.peers is not None:  # the other processes' entries of requests before the reset: into the store first
        await ctx.peers.gather_journal()
    ctx.service.reset()
    if ctx.peers is not None:
        ctx.peers.publish_rules()  # the file's rules again, in every process on a shared store
    for source in ctx.sources:  # the replayed tasks too
        source.reset()
    ctx.journal.clear()
    if ctx.webhooks is not None:
        ctx.webhooks.reset()
    return json_response({"status": "reset"})


async def get_clock(request: Request) -> Response:
    ctx = _ctx(request)
    return json_response(
        {"now": ctx.clock.now(), "clock": type(ctx.clock).__name__, "time_scale": ctx.settings.time_scale}
    )


async def advance_clock(request: Request) -> Response:
    ctx = _ctx(request)
    body = await _json(request, ctx)
    seconds = body.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 10**9:
        raise InvalidParams(f"seconds: {seconds!r} must be a number of seconds in [0, 1e9]")
    if not isinstance(ctx.clock, MovableClock):
        raise Conflict(f"clock: {type(ctx.clock).__name__} cannot be advanced")
    if ctx.reads_off_loop:  # the offset goes to the shared store: a hung one holds a worker thread, not the loop
        await anyio.to_thread.run_sync(ctx.clock.advance, float(seconds), abandon_on_cancel=True)
    else:
        ctx.clock.advance(float(seconds))
    ran = await ctx.service.settle_all_due()  # tasks without a timer (`PredictionService._quiet_for`) end now too
    return json_response({"now": ctx.clock.now(), "timers_run": ran})


async def list_tasks(request: Request) -> Response:
    ctx = _ctx(request)
    q = request.query_params
    status = q.get("status")
    if status is not None and status not in {s.value for s in Status}:
        raise InvalidParams(f"status: {status!r} is not one of {[s.value for s in Status]}")
    limit = _limit(q.get("limit"))
    key = q.get("key")

    def listed() -> dict[str, Any]:
        if key is not None and key.startswith("…"):  # the masked form, as served; matched as the journal's key= is
            suffix = TaskFilter(status=status, model=q.get("model"), key_suffix=key[1:] or None)
            found = ctx.find_tasks(suffix, limit=10_000)
            tasks = [p for p in found if mask_key(p.key) == key][:limit]
        else:
            tasks = ctx.find_tasks(TaskFilter(key=key, status=status, model=q.get("model")), limit=limit)
        return {"data": [task_summary(p) for p in tasks]}

    return json_response(await _shown(ctx, listed))


async def _shown(ctx: MockContext, call: Callable[..., T], *args: Any) -> T:
    """`call(*args)`, which reads tasks or deliveries from the store: on a worker thread when the store is shared
    and no replayed tasks join it (`reads_off_loop`), so that a hung Redis holds that thread, not the loop."""
    if ctx.reads_off_loop:
        return await anyio.to_thread.run_sync(call, *args, abandon_on_cancel=True)
    return call(*args)


async def get_task(request: Request) -> Response:
    ctx = _ctx(request)
    task_id = request.path_params["task_id"]
    try:
        p = await ctx.service.read(None, task_id)
    except NotFound:
        sourced = ctx.sourced(task_id)
        if sourced is None:
            raise
        p, source = sourced
        return json_response(task_detail(ctx, p, source.body(task_id, ctx.clock.now(), p.base_url)))
    return json_response(await _shown(ctx, task_detail, ctx, p))


async def cancel_task(request: Request) -> Response:
    ctx = _ctx(request)
    task_id = request.path_params["task_id"]
    if ctx.sourced(task_id) is not None:
        raise Conflict(f"task {task_id}: cannot cancel a replayed task, it follows its recording (serve --replay)")
    p = await ctx.service.cancel(task_id)
    return json_response(await _shown(ctx, task_detail, ctx, p))


async def get_rules(request: Request) -> Response:
    ctx = _ctx(request)
    return json_response({"rules": [dict(r.raw) for r in ctx.service.rules]})


async def put_rules(request: Request) -> Response:
    ctx = _ctx(request)
    body = await _json(request, ctx)
    if not isinstance(body, dict) or "rules" not in body:
        raise InvalidParams('body: expected {"rules": [...]}')
    try:
        ctx.service.adopt_raw_rules(body["rules"])
    except SettingsError as exc:
        raise InvalidParams(str(exc)) from None
    if ctx.peers is not None:
        ctx.peers.publish_rules()  # for every process on a shared store
    return json_response({"rules": [dict(r.raw) for r in ctx.service.rules]})


async def list_requests(request: Request) -> Response:
    ctx = _ctx(request)
    q = request.query_params
    status_text = q.get("status")
    status = wire.decimal(status_text)
    if status_text is not None and status is None:
        raise InvalidParams(f"status: {status_text!r} is not an HTTP status code")
    everyone = None  # on a shared store, every process's entries (mock_server.journal), read off the event loop
    if ctx.peers is not None and await ctx.peers.gather_journal():
        everyone = await anyio.to_thread.run_sync(ctx.journal.current, abandon_on_cancel=True)
    entries = ctx.journal.requests(
        method=q.get("method"),
        path=q.get("path"),
        key=q.get("key"),
        status=status,
        limit=_limit(q.get("limit")),
        among=everyone,
    )
    journal = {"data": [e.as_dict() for e in entries], "errors": ctx.journal.errors, "worker": ctx.worker()}
    return json_response(mask_secrets(journal))


async def get_config(request: Request) -> Response:
    _ctx(request)
    watcher = getattr(request.app.state, "config_watcher", None)  # set by `serve --watch` (mock_server.watch)
    return json_response(watcher.status.as_dict() if watcher is not None else {"watching": False})


@functools.cache
def _control_spec() -> bytes:
    return json.dumps(openapi.control_spec()).encode()


async def control_openapi(request: Request) -> Response:
    _ctx(request)
    return Response(_control_spec(), media_type="application/json")


def control_routes() -> list[Route]:
    routes = [
        Route("/_mock/health", health, methods=["GET"]),
        Route("/_mock/reset", reset, methods=["POST"]),
        Route("/_mock/clock", get_clock, methods=["GET"]),
        Route("/_mock/clock/advance", advance_clock, methods=["POST"]),
        Route("/_mock/tasks", list_tasks, methods=["GET"]),
        Route("/_mock/tasks/{task_id}", get_task, methods=["GET"]),
        Route("/_mock/tasks/{task_id}/cancel", cancel_task, methods=["POST"]),
        Route("/_mock/rules", get_rules, methods=["GET"]),
        Route("/_mock/rules", put_rules, methods=["PUT"]),
        Route("/_mock/requests", list_requests, methods=["GET"]),
        Route("/_mock/config", get_config, methods=["GET"]),
        Route("/_mock/openapi.json", control_openapi, methods=["GET"]),
    ]
    from mock_server.webhooks.routes import webhook_routes

    return [*routes, *webhook_routes("/_mock/webhooks")]
