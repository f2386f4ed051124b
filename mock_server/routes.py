"""Thin handlers for the public API (from the spec's operations), result files and the served spec."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import openapi
from mock_server import behaviour, wire
from mock_server.context import MockContext
from mock_server.errors import Forbidden, InjectedError, NotFound, SettingsError
from mock_server.incoming import read_body, request_headers
from mock_server.lifecycle import Status
from mock_server.responses import json_response
from mock_server.rules import ErrorSpec
from mock_server.scheduler import delay

__all__ = ["public_routes"]


def _ctx(request: Request) -> MockContext:
    ctx: MockContext = request.app.state.mock
    return ctx


async def _enter(request: Request, ctx: MockContext, operation_id: str, *, create: bool = False) -> str:
    """Auth, rate limit, then (except on create, where behaviour.plan decides) injected error and latency."""
    service = ctx.service
    headers = request_headers(request)
    credentials = ctx.catalog.credentials[operation_id]  # the headers the spec's `security` names
    key = service.authenticate(credentials.key(headers), credentials.hint())
    request.scope["state"]["key"] = key
    service.check_rate(key)
    if create:
        return key
    error = behaviour.header_error(headers) or service.global_error()
    latency = behaviour.header_latency(headers)
    latency = ctx.settings.latency if latency is None else latency
    if latency:
        await delay(latency)
    if error is not None:
        raise _injected(ctx, error)
    return key


def _injected(ctx: MockContext, error: ErrorSpec) -> InjectedError:
    # Without a type, the error carries the one the spec documents for its status (429 rate_limit, ...).
    error_type = error.type or ctx.catalog.error_type(error.status)
    return InjectedError(error.message, status=error.status, type=error_type)


def _base_url(request: Request) -> str:
    """scheme://host[:port] of this request, from the Host header (cheaper than Request.base_url)."""
    scope = request.scope
    host = request_headers(request).get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


async def create_prediction(request: Request) -> Response:
    ctx = _ctx(request)
    key = await _enter(request, ctx, "createPrediction", create=True)
    settings = ctx.settings
    raw = await read_body(request, settings.max_body_bytes)
    body = wire.parse_json_body(
        raw,
        request_headers(request).get("content-type"),
        max_bytes=settings.max_body_bytes,
        max_depth=settings.max_json_depth,
    )
    plan, info = ctx.service.plan(key, body, request_headers(request))
    if plan.latency:
        await delay(plan.latency)
    if plan.error is not None:
        raise _injected(ctx, plan.error)
    prediction = ctx.service.create(key, body, plan, info, _base_url(request))
    request.scope["state"]["task_id"] = prediction.task_id
    return json_response(wire.render_create(prediction))


async def get_prediction(request: Request) -> Response:
    ctx = _ctx(request)
    key = await _enter(request, ctx, "getPrediction")
    task_id = request.path_params["prediction_id"]
    request.scope["state"]["task_id"] = task_id
    prediction = ctx.service.get(key, task_id)
    return json_response(ctx.service.body(prediction, base_url=_base_url(request)))


async def get_credits(request: Request) -> Response:
    ctx = _ctx(request)
    key = await _enter(request, ctx, "getCredits")
    await ctx.scheduler.run_due()
    return json_response(ctx.service.credits(key))


async def get_file(request: Request) -> Response:
    ctx = _ctx(request)
    task_id, name = request.path_params["task_id"], request.path_params["name"]
    query = request.query_params
    problem = ctx.files.signer.problem(task_id, name, query.get("e"), query.get("token"), ctx.clock.now())
    if problem:
        raise Forbidden(f"file URL: {problem} (You have no permission to access this resource)")
    prediction = ctx.service.get(None, task_id)
    index = wire.decimal(name.partition(".")[0])
    if index is None or prediction.status is not Status.SUCCESS or not 0 <= index < len(prediction.outputs):
        raise NotFound(f"file: task {task_id} has no output {name!r}")
    if ctx.files.name(prediction, index) != name:
        raise NotFound(f"file: task {task_id} has no output {name!r}")
    rendered = ctx.files.cached(prediction, index)
    if rendered is None:  # render off the event loop: a video takes milliseconds the API should not wait for
        rendered = await anyio.to_thread.run_sync(ctx.files.produce, prediction, index)
        ctx.files.keep(prediction, index, rendered)
    headers = {"Cache-Control": "private, max-age=86400", "Content-Disposition": f'inline; filename="{name}"'}
    if rendered.fallback_from:  # the media package could not honestly produce the requested format
        headers["X-Mock-Format-Fallback"] = f"{rendered.fallback_from} -> {rendered.extension}"
    return Response(rendered.data, media_type=rendered.content_type, headers=headers)


_SERVER_URL = "__shuyou_mock_server_url__"  # stands in for this mock's URL in the one rendering of the document


@functools.cache
def _rendered_spec(fmt: str) -> tuple[bytes, bytes]:
    """The served document in `fmt`, rendered once, as the bytes before and after this mock's server URL.

    Rendering costs about 150 ms of CPU (the YAML emitter; 2026-12-02, on this shared 2-core machine), so it
    is not done per `Host`: each request puts its own URL between the two halves, a JSON string (which is a
    YAML double-quoted scalar too), so a hostile Host header cannot break out of it.
    """
    # The served copy lists this mock first in `servers`, so a client or tool generated from it talks to the
    # mock; the real API stays listed second. openapi/predictions.yaml itself is unchanged.
    spec = openapi.load_spec()
    spec["servers"] = [{"url": _SERVER_URL, "description": "this mock"}, *spec.get("servers", [])]
    if fmt == "yaml":
        import yaml  # lazily: PyYAML costs ~20 ms at startup (bench/bench_startup.py)

        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        text = yaml.dump(spec, Dumper=dumper, sort_keys=False, allow_unicode=True).encode()
        placeholder = _SERVER_URL.encode()
    else:
        text = json.dumps(spec, ensure_ascii=False).encode()
        placeholder = json.dumps(_SERVER_URL).encode()
    head, found, tail = text.partition(placeholder)
    if not found or placeholder in tail:
        raise SettingsError(f"spec: the served copy must hold {_SERVER_URL!r} exactly once")
    return head, tail


def _served_spec(base_url: str, fmt: str) -> bytes:
    head, tail = _rendered_spec(fmt)
    return b"".join((head, json.dumps(base_url).encode(), tail))


async def spec_json(request: Request) -> Response:
    return Response(_served_spec(str(request.base_url).rstrip("/"), "json"), media_type="application/json")


async def spec_yaml(request: Request) -> Response:
    return Response(_served_spec(str(request.base_url).rstrip("/"), "yaml"), media_type="application/yaml")


HANDLERS = {"createPrediction": create_prediction, "getPrediction": get_prediction, "getCredits": get_credits}


def public_routes(spec: Mapping[str, Any]) -> list[Route]:
    """One route per spec operation the mock implements (path and method from the spec), plus files and docs."""
    routes: list[Route] = []
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            handler = HANDLERS.get(operation.get("operationId", "")) if isinstance(operation, Mapping) else None
            if handler is not None:
                routes.append(Route(path, handler, methods=[method.upper()], name=operation["operationId"]))
    missing = set(HANDLERS) - {r.name for r in routes}
    if missing:
        raise SettingsError(f"spec: operations {sorted(missing)} are missing from openapi/predictions.yaml paths")
    return [
        *routes,
        Route("/files/{task_id}/{name}", get_file, methods=["GET"], name="file"),
        Route("/openapi.json", spec_json, methods=["GET"]),
        Route("/openapi.yaml", spec_yaml, methods=["GET"]),
    ]
