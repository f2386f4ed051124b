"""The webhook receiver: records every delivery, verifies it, and answers as it is told.

Run it beside a client or the harness::

    shuyou-contracts receive --port 9000 --secret whsec_... [--script 500,500,200] [--delay 0.5]

(`python -m contracts.receiver ...` is the same command under its older name.)

`POST` to any path is a delivery: the signature is verified with `standardwebhooks` (401 when it does
not verify) and the body is validated against the spec's webhook schema (422 when it does not conform);
otherwise the receiver answers the next status of its script, then its default status, after an
optional delay and with an optional `Retry-After`. `GET /deliveries[?after=SEQ]` lists what arrived
(after delivery number SEQ), `DELETE /deliveries` forgets it, `GET/POST /behaviour` reads or changes
how it answers.
In tests and in a harness run, `WebhookReceiver` runs it on 127.0.0.1 in a thread.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import re
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contracts.serving import serve_in_thread
from contracts.webhooks import SignatureInvalid, payload_errors, verify_signature

__all__ = ["Behaviour", "WebhookReceiver", "add_receive_command", "create_receiver_app", "main"]

_SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
_DIGITS = re.compile(r"[0-9]{1,3}")


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How the receiver answers valid deliveries."""

    script: tuple[int, ...] = ()
    """Statuses for the next deliveries, in order (e.g. 500, 500, 200); then `status`."""
    status: int = 200
    delay: float = 0.0
    """Real seconds to wait before answering (to exercise the sender's timeout)."""
    retry_after: str | None = None
    """`Retry-After` header value sent with every non-2xx answer."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any], base: Behaviour | None = None) -> Behaviour:
        unknown = set(data) - {"script", "status", "delay", "retry_after"}
        if unknown:
            raise ValueError(f"unknown behaviour keys {sorted(unknown)}; known: script, status, delay, retry_after")
        current = base or cls()
        changes: dict[str, Any] = {}
        if "script" in data:
            script = data["script"]
            if isinstance(script, str | bytes | Mapping) or not isinstance(script, Sequence):
                raise ValueError(f"script: {script!r:.80} is not a list of HTTP statuses")
            changes["script"] = tuple(_status(s, f"script[{i}]") for i, s in enumerate(script))
        if "status" in data:
            changes["status"] = _status(data["status"], "status")
        if "delay" in data:
            changes["delay"] = _delay(data["delay"])
        if "retry_after" in data:
            changes["retry_after"] = None if data["retry_after"] is None else str(data["retry_after"])
        return replace(current, **changes)


def _status(value: Any, field: str) -> int:
    status: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        status = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):  # the CLI's --script gives strings
        status = int(value)
    if status is None or not 100 <= status <= 599:
        raise ValueError(f"{field}: {value!r:.80} is not an HTTP status; expected an integer in 100..599")
    return status


def _delay(value: Any) -> float:
    delay: float | None = None
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            delay = float(value)
        except (ValueError, OverflowError):  # "soon"; an int too large for a float
            delay = None
    if delay is None or not 0 <= delay <= 600:  # NaN fails the comparison too
        raise ValueError(f"delay: {value!r:.80} is not a number of seconds in [0, 600]")
    return delay


@dataclass(slots=True)
class _State:
    secrets: tuple[str, ...]
    behaviour: Behaviour
    validate: bool = True
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    changed: threading.Condition = field(default_factory=threading.Condition)

    def next_answer(self) -> tuple[int, Behaviour]:
        with self.changed:
            behaviour = self.behaviour
            if behaviour.script:
                self.behaviour = replace(behaviour, script=behaviour.script[1:])
                return behaviour.script[0], behaviour
            return behaviour.status, behaviour

    def record(self, entry: dict[str, Any]) -> None:
        with self.changed:
            self.deliveries.append(entry)
            self.changed.notify_all()


def create_receiver_app(
    secrets: Sequence[str] = (), *, behaviour: Behaviour | None = None, validate: bool = True
) -> Starlette:
    """The receiver as an ASGI app; with no `secrets` signatures are recorded but not checked."""
    state = _State(tuple(secrets), behaviour or Behaviour(), validate)

    async def receive(request: Request) -> Response:
        received_at = time.time()  # wall clock: what a real receiver sees (latency measurements)
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k in _SIGNATURE_HEADERS or k == "content-type"}
        verified: bool | None = None
        verify_error: str | None = None
        if state.secrets:
            try:
                verify_signature(body, request.headers, state.secrets)
                verified = True
            except SignatureInvalid as exc:
                verified, verify_error = False, str(exc)
        try:
            payload: Any = json.loads(body)
        except ValueError:
            payload = None
        errors: list[str] = []
        if state.validate:
            errors = payload_errors(payload) if payload is not None else ["$: body is not JSON"]
        if verified is False:
            status, behaviour, reason = 401, state.behaviour, f"signature rejected: {verify_error}"
        elif errors:
            status, behaviour, reason = 422, state.behaviour, "body does not match the spec's webhook schema"
        else:
            status, behaviour = state.next_answer()
            reason = "ok" if 200 <= status < 300 else "scripted failure"
        state.record(
            {
                "seq": next(state.seq),
                "path": request.url.path,
                "received_at": received_at,
                "webhook_id": request.headers.get("webhook-id"),
                "webhook_timestamp": request.headers.get("webhook-timestamp"),
                "headers": headers,
                "body": payload,
                "raw": body.decode("utf-8", errors="replace"),
                "verified": verified,
                "verify_error": verify_error,
                "schema_errors": errors,
                "answered": status,
            }
        )
        if behaviour.delay:
            await anyio.sleep(behaviour.delay)
        extra = {"retry-after": behaviour.retry_after} if behaviour.retry_after and status >= 300 else None
        return JSONResponse({"status": status, "reason": reason}, status_code=status, headers=extra)

    async def deliveries(request: Request) -> Response:
        if request.method == "DELETE":
            with state.changed:
                state.deliveries.clear()
            return Response(status_code=204)
        try:
            after = int(request.query_params.get("after", "0"))
        except ValueError:
            return JSONResponse({"error": "after: expected the integer seq of the last delivery seen"}, status_code=400)
        with state.changed:
            start = bisect.bisect_right(state.deliveries, after, key=lambda d: int(d["seq"]))
            got = state.deliveries[start:]
        return JSONResponse({"deliveries": got})

    async def behaviour_endpoint(request: Request) -> Response:
        if request.method == "POST":
            try:
                data = await request.json()
                if not isinstance(data, dict):
                    raise ValueError("expected a JSON object")
                new = Behaviour.from_json(data, state.behaviour)
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            with state.changed:
                state.behaviour = new
        return JSONResponse(asdict(state.behaviour))

    app = Starlette(
        routes=[
            Route("/deliveries", deliveries, methods=["GET", "DELETE"]),
            Route("/behaviour", behaviour_endpoint, methods=["GET", "POST"]),
            Route("/{path:path}", receive, methods=["POST"]),
        ]
    )
    app.state.receiver = state
    return app


class WebhookReceiver:
    """The receiver on 127.0.0.1 (`port` 0: a free one) in a thread: `url`, `deliveries()`, `wait_for(n)`, `stop()`."""

    def __init__(
        self,
        secrets: Sequence[str] = (),
        *,
        behaviour: Behaviour | None = None,
        validate: bool = True,
        port: int = 0,
    ) -> None:
        self.app = create_receiver_app(secrets, behaviour=behaviour, validate=validate)
        self._state: _State = self.app.state.receiver
        self._served = serve_in_thread(self.app, port=port, lifespan="off")
        self.base_url = self._served.base_url
        self.url = f"{self.base_url}/webhook"

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._served.stop(force=True)  # do not wait for answers it was told to delay

    def deliveries(self) -> list[dict[str, Any]]:
        with self._state.changed:
            return list(self._state.deliveries)

    def clear(self) -> None:
        with self._state.changed:
            self._state.deliveries.clear()

    def set_behaviour(self, **changes: Any) -> Behaviour:
        """Change how it answers, e.g. `set_behaviour(script=[500, 500, 200], retry_after="7")`."""
        with self._state.changed:
            self._state.behaviour = Behaviour.from_json(changes, self._state.behaviour)
            return self._state.behaviour

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until at least `count` deliveries arrived; TimeoutError (with what did arrive) otherwise."""
        with self._state.changed:
            ok = self._state.changed.wait_for(lambda: len(self._state.deliveries) >= count, timeout=timeout)
            got = list(self._state.deliveries)
        if not ok:
            raise TimeoutError(f"expected {count} webhook deliveries within {timeout} s, got {len(got)}: {got!r:.500}")
        return got


def add_receive_command(commands: Any) -> None:
    """`shuyou-contracts receive ...` on the CLI's subparsers."""
    sub = commands.add_parser("receive", help="run the webhook receiver until interrupted")
    _arguments(sub)
    sub.set_defaults(handler=lambda parser, args, environ: _serve(parser, args))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m contracts.receiver`: the older name of `shuyou-contracts receive` (same flags, same code)."""
    parser = argparse.ArgumentParser(prog="python -m contracts.receiver", description="Run the webhook receiver.")
    _arguments(parser)
    return _serve(parser, parser.parse_args(argv))


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", action="append", default=[], help="whsec_... (repeat for several)")
    parser.add_argument("--script", default="", help="statuses for the next deliveries, e.g. 500,500,200")
    parser.add_argument("--status", type=int, default=200, help="status once the script is used up")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering")
    parser.add_argument("--retry-after", default=None, help="Retry-After value on non-2xx answers")
    parser.add_argument("--no-validate", action="store_true", help="do not check bodies against the spec")
    parser.add_argument("--log-level", default="warning")


def _serve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Serve the receiver the parsed flags describe until interrupted."""
    import uvicorn  # lazy: `shuyou-contracts` builds this subcommand on every start

    try:
        behaviour = Behaviour.from_json(
            {
                "script": [s for s in args.script.split(",") if s.strip()],
                "status": args.status,
                "delay": args.delay,
                "retry_after": args.retry_after,
            }
        )
    except ValueError as exc:
        parser.error(str(exc))
    app = create_receiver_app(args.secret, behaviour=behaviour, validate=not args.no_validate)
    verifying = "verifying signatures" if args.secret else "NOT verifying signatures (no --secret)"
    print(f"webhook receiver on http://{args.host}:{args.port}/webhook ({verifying}); GET /deliveries", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
