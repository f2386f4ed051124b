"""One pure-ASGI middleware: request id header, access rules (`access`), the shared clock and rules read first on
a shared store (`peers.Peers.before_request`), journal entry and metrics, a 500 envelope for anything
unexpected, due tasks settled before a read of the surfaces that show tasks (`_SETTLED_READS`), and `GET /metrics`
(`metrics.Metrics`, outside the router so that it counts what the router answers, 404s included). An unreachable
store is a 503 in
the envelope (`StoreUnavailable`), journaled with its type like any API error; the clock read and the settle
before a read let the request go on without the store, so what needs none (the request journal) still answers.

An unexpected exception from the app is journaled (for `journal.check()`) and answered here in the envelope
instead of a plain-text 500 (`app.MockApp` calls this middleware without Starlette's ServerErrorMiddleware).

The API's operations (create, get, credits; `direct` from `app`) are answered here without the router:
their route is matched by (method, path) or its compiled pattern, its handler called with the same
`Request`, an `ApiError`/`HTTPException` rendered by the same handlers as the router's, and the bodies kept
for the inspector (`keep_bodies`, what `CaptureMiddleware` does for the rest). That skips Starlette's
ExceptionMiddleware, Router, `request_response`, the capture layer and four send wrappers. With the other
request-path changes of issue 9 (metrics tallies, orjson, positional journal entries, the batched due-task
timer), in-process ASGI CPU per request went from 92 to 61 us (create) and 54 to 29 us (get), medians of 5
alternating runs of 10,000 requests (2026-12-02 06:28 UTC, load 6-9 on 2 cores). HEAD, a root_path or
`--replay` take the router as before.

Where a real server's CPU goes (uvicorn + httptools + uvloop, 16 keep-alive connections from wrk, py-spy
sampling the whole process, 2026-12-02 12:55-13:10 UTC, load 0.4-2.8): of ~94 us per create, uvicorn's `send`
(two `write()`s, as for the bare app) took 27%, the event loop 12%, this pipeline ~55% (~50 us, against ~36 us
warm in-process; bare Starlette spends ~15 us in its router and response); of ~50 us per GET of a finished
task, `send` 45% and this pipeline ~32% (~16 us, as in-process). The garbage collector took 4-7 us per create
(gc callbacks; `gc.freeze()` after startup changed nothing measurable, so it is not done). Rewriting this
middleware's direct path without the per-request `send_wrapper` closure saved under 0.5 us in-process and
was left out. Settling each task 10 s after its create cost ~14 us more, paid in later requests; a task
nobody watches no longer has a timer (`PredictionService._quiet_for`).

Counted in instructions (callgrind, in-process, the difference of 1,000 and 4,000 requests: repeatable to
0.5 % whatever else runs; 2026-12-02 15:00 UTC): an API operation that passes the Host rule takes `_direct`
(no `send` wrapper or header list), `app.MockApp` skips Starlette's ServerErrorMiddleware, the handlers get
the context bound (`routes.public_routes`), the bodies, journal entries and metrics are kept as plain tuples,
and signed file URLs are kept per task: a GET of a finished task went from 176,000 to 134,000 instructions
(bare Starlette's: 156,000) and a create from 296,000 to 244,000 (bare: 112,000, as it reads no body; 15,000
of that the digit count in `wire._fast_loads`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence

import anyio
from starlette.convertors import StringConvertor
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request, cookie_parser
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.access import TOKEN_COOKIE, TOKEN_HEADER, AccessPolicy, Refusal, query_token
from mock_server.context import MockContext
from mock_server.errors import (
    AccessDenied,
    ApiError,
    Forbidden,
    InternalError,
    MethodNotAllowed,
    MisdirectedRequest,
    StoreUnavailable,
)
from mock_server.metrics import CONTENT_TYPE, Metrics
from mock_server.note import RequestNote, note, open_note
from mock_server.responses import error_response, http_exception_handler

__all__ = ["MockMiddleware"]

_GUARDED = ("/_mock", "/metrics")  # the mock's own surfaces: token, Origin and frame rules
_READS = ("GET", "HEAD")
_INSPECTOR = "/_mock/ui"
_METRICS = "/metrics"
# The surfaces that show tasks, deliveries, credits or their counts: a read of one first settles every task due
# (the rest, /_mock/health, clock, rules, config, requests and the page itself, never wait on the store for it).
_SETTLED_READS = ("/_mock/tasks", "/_mock/webhooks", "/_mock/inspector", "/metrics")
_ACCESS_HEADERS = frozenset({b"host", b"origin", b"sec-fetch-site", b"authorization", b"cookie", b"x-mock-token"})
_UNSEEN = InternalError("not looked up yet")  # a sentinel for the Host cache (None means: let it through)
_ERRORS: dict[int, type[ApiError]] = {401: AccessDenied, 403: Forbidden, 421: MisdirectedRequest}
# Keeps one request's bodies for the inspector: (request_id, request bytes, response bytes) -> None.
BodyKeeper = Callable[[str, bytes, bytes], None]


def _operation(path: str) -> str:
    """The label of a request no route took: /metrics itself, or one word (the label set stays bounded)."""
    return "metrics" if path == _METRICS else "unmatched"


def _error(refusal: Refusal) -> ApiError:
    return _ERRORS[refusal.status](refusal.message, status=refusal.status)


class MockMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        context: MockContext,
        direct: Sequence[Route] = (),
        keep_bodies: BodyKeeper | None = None,
    ) -> None:
        self.app = app
        self.context = context
        # The API's routes answered here without the router (see `_direct`): exact paths by (method, path),
        # templated ones tried in order. A method the route lacks, HEAD or a root_path takes the router.
        self._exact: dict[tuple[str, str], Route] = {}
        # (method, route, its parameters are all plain strings: the regex's groups are the path_params as they are)
        self._templated: list[tuple[str, Route, bool]] = []
        for route in direct:
            for method in sorted(route.methods or ()):
                if method == "HEAD":
                    continue
                if route.param_convertors:
                    plain = all(type(c) is StringConvertor for c in route.param_convertors.values())
                    self._templated.append((method, route, plain))
                else:
                    self._exact[(method, route.path)] = route
        self._keep_bodies = keep_bodies
        s = context.settings
        self.policy = AccessPolicy.from_settings(s.allowed_hosts, s.admin_token)
        self._host_answers: dict[tuple[bytes | None, str], ApiError | None] = {}
        self.metrics = Metrics(context)  # Starlette builds its middleware when the app first runs: a lazy import
        peers = context.peers
        self._peers = peers if peers is not None and peers.shared else None

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                self.metrics.close()
            return message

        await self.app(scope, receive_wrapper, send)

    async def _serve_metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            raise MethodNotAllowed(
                f"method: {scope['method']} is not allowed on /metrics; allowed: GET, HEAD",
                headers={"Allow": "GET, HEAD"},
            )
        render = self.metrics.scrape()  # this process's request counts, as of now
        if self.context.store.multiprocess:  # store round trips: a hung Redis holds the thread
            body = await anyio.to_thread.run_sync(render, abandon_on_cancel=True)
        else:
            body = render()
        await Response(body, media_type=CONTENT_TYPE)(scope, receive, send)

    def _guard(self, scope: Scope) -> tuple[ApiError | None, bytes | None]:
        """The refusal for this request, if any, and a Set-Cookie value when `?token=` opened the inspector."""
        path: str = scope["path"]
        guarded = path.startswith(_GUARDED)
        server = scope.get("server")
        local = str(server[0]) if server else ""
        if not guarded:  # the API's hot path: the Host rule only, its answer cached per Host and local address
            raw = None
            for name, value in scope["headers"]:  # a loop, not next(genexpr): no generator per request
                if name == b"host":
                    raw = value
                    break
            answer = self._host_answers.get((raw, local), _UNSEEN)
            if answer is _UNSEEN:
                if len(self._host_answers) > 256:
                    self._host_answers.clear()
                refusal = self.policy.host_refusal(raw.decode("latin-1") if raw is not None else None, local)
                answer = self._host_answers[(raw, local)] = _error(refusal) if refusal else None
            return answer, None
        h = {k.decode(): v.decode("latin-1") for k, v in scope["headers"] if k in _ACCESS_HEADERS}
        host = h.get("host")
        refusal = self.policy.host_refusal(host, local)
        if refusal is None:
            auth_scheme, _, bearer = h.get("authorization", "").partition(" ")
            inspector = path == _INSPECTOR or path.startswith(_INSPECTOR + "/")
            from_query = query_token(scope.get("query_string", b"").decode("latin-1")) if inspector else None
            cookie = cookie_parser(h["cookie"]).get(TOKEN_COOKIE) if "cookie" in h else None
            client = scope.get("client")
            presented = (h.get(TOKEN_HEADER), bearer if auth_scheme.lower() == "bearer" else None, cookie, from_query)
            refusal = self.policy.token_refusal(client[0] if client else "", host, presented)
            refusal = refusal or self.policy.origin_refusal(
                scope["method"], scope.get("scheme", "http"), host, h.get("origin"), h.get("sec-fetch-site")
            )
            if refusal is None and from_query and self.policy.is_token(from_query):
                secure = "; Secure" if scope.get("scheme") == "https" else ""
                return None, f"{TOKEN_COOKIE}={from_query}; Path=/_mock; HttpOnly; SameSite=Strict{secure}".encode()
        return (_error(refusal) if refusal else None), None

    def _route(self, scope: Scope) -> Route | None:
        """The API route that takes this request whole (path and method), if it is one answered directly."""
        method, path = scope["method"], scope["path"]
        route = self._exact.get((method, path))
        if route is not None:
            scope["path_params"] = {}
        else:
            for wanted, candidate, plain in self._templated:
                found = candidate.path_regex.match(path) if wanted == method else None
                if found is not None:
                    if plain:
                        scope["path_params"] = found.groupdict()
                    else:
                        convertors = candidate.param_convertors
                        scope["path_params"] = {k: convertors[k].convert(v) for k, v in found.groupdict().items()}
                    route = candidate
                    break
            else:
                return None
        scope["endpoint"] = route.endpoint
        scope["route"] = route
        return route

    async def _answer(self, route: Route, scope: Scope, receive: Receive) -> Response:
        """An API request's answer from its route's handler, called here.

        What the router, Starlette's ExceptionMiddleware and `request_response` would do for these routes, in
        one frame: the handler gets the same `Request`, and an `ApiError` or `HTTPException` the same
        handler's envelope. Anything else propagates (the 500 path), its request body kept for the inspector
        as `CaptureMiddleware` would (see the module docstring for what this saves). The request body is the
        one the handler read (`incoming.read_body` leaves it in the note).
        """
        request = Request(scope, receive)
        try:
            response: Response = await route.endpoint(request)
            return response
        except ApiError as exc:
            note(scope).error(exc.type, exc.message)
            return error_response(exc)
        except HTTPException as exc:
            return await http_exception_handler(request, exc)
        except BaseException:
            if self._keep_bodies is not None:
                record = note(scope)
                self._keep_bodies(record.request_id, record.body, b"")
            raise

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self._lifespan(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if not scope["path"].startswith(_GUARDED) and not scope.get("root_path"):
            refused, _ = self._guard(scope)
            route = self._route(scope) if refused is None else None
            if route is not None:
                await self._direct(route, scope, receive, send)
                return
        await self._through(scope, receive, send)

    async def _direct(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        """An API operation let in by the Host rule: its handler's answer sent as is, plus the request id.

        The hot path of a load test: no `send` wrapper, no header list to extend (~3,000 of ~160,000
        instructions per GET, callgrind, 2026-12-02); what `_through` does for the rest, in fewer steps.
        """
        ctx = self.context
        request_id = ctx.service.request_id()
        record = open_note(scope, request_id)
        started = time.perf_counter()
        status, responded = 500, False
        arrived = ctx.clock.now()
        try:
            if self._peers is not None and self._peers.before_request():  # another process's clock advance or
                arrived = ctx.clock.now()  # rules, before this answer
            response = await self._answer(route, scope, receive)
            status, responded, body = response.status_code, True, bytes(response.body)
            headers = [*response.raw_headers, (b"x-shuyou-requestid", request_id.encode())]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            if self._keep_bodies is not None:
                self._keep_bodies(request_id, record.body, body)
        except ClientDisconnect:  # the client went away mid-body: nobody to answer
            status = 499
        except Exception as exc:
            failure = self._failed(exc, responded, record)
            if failure is not None:
                failure.raw_headers.append((b"x-shuyou-requestid", request_id.encode()))
                await failure(scope, receive, send)
        finally:
            self._journal(scope, route.name, status, started, arrived, record)

    async def _through(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Any other request: the access rules, /metrics, or the router, its answer given the mock's headers."""
        ctx = self.context
        request_id = ctx.service.request_id()
        record = open_note(scope, request_id)
        started = time.perf_counter()
        arrived = ctx.clock.now()
        status = 500
        responded = False
        refused, cookie = self._guard(scope)
        extra = [(b"x-shuyou-requestid", request_id.encode())]
        if cookie is not None:
            extra.append((b"set-cookie", cookie))
        if scope["path"].startswith(_GUARDED):
            extra.append((b"x-frame-options", b"DENY"))  # no other site frames the inspector's buttons

        async def send_wrapper(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        try:
            if refused is not None:
                record.error(refused.type, refused.message)
                await error_response(refused)(scope, receive, send_wrapper)
                return
            if self._peers is not None and self._peers.before_request():  # another process's clock advance or
                arrived = ctx.clock.now()  # rules, before this answer
            if scope["method"] in _READS and scope["path"].startswith(_SETTLED_READS):
                # such a read sees every task due by now as ended
                with contextlib.suppress(StoreUnavailable):  # the route's own store call answers, if it has one
                    await ctx.service.settle_all_due()
            if scope["path"] == _METRICS:
                await self._serve_metrics(scope, receive, send_wrapper)
                return
            await self.app(scope, receive, send_wrapper)
        except ClientDisconnect:  # the client went away mid-body: nobody to answer
            status = 499
        except ApiError as exc:  # raised here, outside the router's exception handlers (/metrics)
            record.error(exc.type, exc.message)
            await error_response(exc)(scope, receive, send_wrapper)
        except Exception as exc:
            failure = self._failed(exc, responded, record)
            if failure is not None:
                await failure(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            operation = route.name if route is not None else _operation(scope["path"])
            self._journal(scope, operation, status, started, arrived, record)

    def _failed(self, exc: Exception, responded: bool, record: RequestNote) -> Response | None:
        """An unexpected exception, journaled: the 500 envelope to answer, unless an answer began already."""
        self.context.journal.error(exc)
        record.error("internal_server_error", f"{type(exc).__name__}: {exc}")
        if responded:
            return None
        error = InternalError(f"internal_server_error: {type(exc).__name__} in the mock; see /_mock/requests")
        return error_response(error)

    def _journal(
        self, scope: Scope, operation: str, status: int, started: float, arrived: float, record: RequestNote
    ) -> None:
        """The request's metrics and journal entry, as it ends; the entry's time is the mock clock as it arrived
        (after the shared clock was read), so entries of one client's requests to several processes sort as sent."""
        ctx = self.context
        elapsed = time.perf_counter() - started
        self.metrics.observe(operation, status, elapsed)
        ctx.journal.add(
            arrived,
            scope["method"],
            scope["path"],
            scope["query_string"].decode("latin-1") if scope.get("query_string") else "",
            status,
            record.key,
            record.request_id,
            round(elapsed * 1000, 3),
            record.task_id,
            record.error_type,
            record.error_message,
        )
