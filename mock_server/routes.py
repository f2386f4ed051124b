"""Thin handlers for the public API (from the spec's operations), result files and the served spec."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import openapi
from mock_server import wire
from mock_server.context import MockContext
from mock_server.errors import SettingsError
from mock_server.files import file_headers
from mock_server.incoming import read_body, request_headers
from mock_server.note import note
from mock_server.responses import json_response
from mock_server.service import Admission, BodyReader, Operation

__all__ = ["public_routes"]


async def _admit(
    ctx: MockContext, request: Request, operation: Operation, headers: Mapping[str, str], body: BodyReader | None = None
) -> Admission:
    return await ctx.service.admit(operation, headers, note(request.scope), body)


def _base_url(request: Request, headers: Mapping[str, str]) -> str:
    """scheme://host[:port] of this request, from the Host header (cheaper than Request.base_url)."""
    scope = request.scope
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


async def create_prediction(ctx: MockContext, request: Request) -> Response:
    headers = request_headers(request)
    body = functools.partial(read_body, request, ctx.settings.max_body_bytes)  # read once auth has passed
    admission = await _admit(ctx, request, "createPrediction", headers, body)
    service = ctx.service
    if service.batched is not None:  # Redis: the write shares a round trip with the other requests in flight
        return json_response(wire.render_create(await service.create_batched(admission, _base_url(request, headers))))
    return json_response(wire.render_create(service.create(admission, _base_url(request, headers))))


async def get_prediction(ctx: MockContext, request: Request) -> Response:
    headers = request_headers(request)
    admission = await _admit(ctx, request, "getPrediction", headers)
    task_id = request.path_params["prediction_id"]
    service = ctx.service
    if service.batched is not None:
        return json_response(await service.prediction_batched(admission, task_id, _base_url(request, headers)))
    return json_response(service.prediction(admission, task_id, _base_url(request, headers)))


async def get_credits(ctx: MockContext, request: Request) -> Response:
    admission = await _admit(ctx, request, "getCredits", request_headers(request))
    return json_response(ctx.service.credits(admission))


async def get_file(ctx: MockContext, request: Request) -> Response:
    task_id, name = request.path_params["task_id"], request.path_params["name"]
    query = request.query_params
    rendered = await ctx.files.open(task_id, name, query.get("e"), query.get("token"), ctx.clock.now(), ctx.service.get)
    return Response(rendered.data, media_type=rendered.content_type, headers=file_headers(rendered, name))


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


# Each takes the app's context first: `public_routes` binds it (cheaper than `request.app.state.mock` per request).
HANDLERS: dict[Operation, Callable[[MockContext, Request], Awaitable[Response]]] = {
    "createPrediction": create_prediction,
    "getPrediction": get_prediction,
    "getCredits": get_credits,
}


def public_routes(spec: Mapping[str, Any], ctx: MockContext) -> list[Route]:
    """One route per spec operation the mock implements (path and method from the spec), plus files and docs."""
    routes: list[Route] = []
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            handler = HANDLERS.get(operation.get("operationId", "")) if isinstance(operation, Mapping) else None
            if handler is not None:
                endpoint = functools.partial(handler, ctx)
                routes.append(Route(path, endpoint, methods=[method.upper()], name=operation["operationId"]))
    missing = set(HANDLERS) - {r.name for r in routes}
    if missing:
        raise SettingsError(f"spec: operations {sorted(missing)} are missing from openapi/predictions.yaml paths")
    return [
        *routes,
        Route("/files/{task_id}/{name}", functools.partial(get_file, ctx), methods=["GET"], name="file"),
        Route("/openapi.json", spec_json, methods=["GET"]),
        Route("/openapi.yaml", spec_yaml, methods=["GET"]),
    ]
