"""One pure-ASGI middleware: request id header, journal entry, and a 500 envelope for anything unexpected.

It sits inside Starlette's ServerErrorMiddleware, so an unexpected exception is journaled (for
`journal.check()`) and answered in the envelope instead of a plain-text 500.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server import wire
from mock_server.context import MockContext
from mock_server.control import control_problem
from mock_server.errors import Forbidden, InternalError
from mock_server.responses import error_response

__all__ = ["MockMiddleware"]


class MockMiddleware:
    def __init__(self, app: ASGIApp, context: MockContext) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = self.context
        request_id = ctx.service.request_id()
        header = (b"x-shuyou-requestid", request_id.encode())
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        responded = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            if scope["path"].startswith("/_mock"):
                client = scope.get("client")
                auth = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), "")
                problem = control_problem(ctx, client[0] if client else "", auth)
                if problem:
                    state["error_type"], state["error_message"] = "access_denied", problem
                    await error_response(Forbidden(problem))(scope, receive, send_wrapper)
                    return
            await self.app(scope, receive, send_wrapper)
        except ClientDisconnect:  # the client went away mid-body: nobody to answer
            status = 499
        except Exception as exc:
            ctx.journal.error(exc)
            state["error_type"], state["error_message"] = "internal_server_error", f"{type(exc).__name__}: {exc}"
            if not responded:
                error = InternalError(f"internal_server_error: {type(exc).__name__} in the mock; see /_mock/requests")
                body = wire.dumps(wire.render_error(error))
                await send_wrapper(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
        finally:
            ctx.journal.record(
                time=ctx.clock.now(),
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                status=status,
                key=state.get("key"),
                request_id=request_id,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                task_id=state.get("task_id"),
                error_type=state.get("error_type"),
                error_message=state.get("error_message"),
            )
