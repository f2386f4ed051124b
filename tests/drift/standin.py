"""A stand-in for the real ShuYou API, of the tests' own, on loopback: it answers like the documentation, except
for the differences it is told to make (`Differences`), on a clock the test moves (`StandinClock`).

The documented behaviour it copies: a create answers `{data: {task_id, task_status: processing}}`, a poll the
Get Prediction envelope (`code: "0"`, `data`, `request_id`, `usage` on success, one output file per task),
an unknown id a 404 `not_found` error envelope, credits `{data: {total_credits, total_usage, balance}}`,
every answer with `X-ShuYou-RequestId`. Durations are the mock's defaults (image 10 s, video 60 s, audio 5 s)
times `Differences.slower`.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracts.spec import load

# The key a recording is made with; a cassette must never contain it (tests/drift/test_cassette.py).
API_KEY = "sk-live-0123456789SECRET"
DURATIONS = {"image": 10.0, "video": 60.0, "audio": 5.0}
FILES = {"image": ("png", "image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64), "video": ("mp4", "video/mp4", b"\0" * 64)}
FILES["audio"] = ("mp3", "audio/mpeg", b"ID3" + b"\0" * 64)


@dataclass(frozen=True, slots=True)
class Differences:
    """The named ways this stand-in differs from the documentation (and so from the mock)."""

    extra_field: bool = False  # data.created_at on every poll
    queued: bool = False  # a status `queued` before `processing`
    integer_code: bool = False  # code: 0 instead of "0"
    error_type: bool = False  # 404 type `task_not_found` instead of `not_found`
    no_request_id: bool = False  # no X-ShuYou-RequestId header
    slower: float = 1.0  # processing takes this many times the mock's durations

    @classmethod
    def all(cls) -> Differences:
        return cls(True, True, True, True, True, 3.0)


@dataclass(slots=True)
class StandinClock:
    """Seconds since the start; the recorder's `sleep` moves it instead of waiting."""

    now_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        with self.lock:
            return self.now_s

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now_s += seconds


def create_standin(clock: StandinClock, differences: Differences | None = None) -> Starlette:
    differences = differences or Differences()
    spec = load()
    tasks: dict[str, dict[str, Any]] = {}
    ids = (f"{n:032x}" for n in itertools.count(0xABC0))
    request_ids = (f"{n:032x}" for n in itertools.count(0xDEF0))

    def answer(body: Any, status: int = 200) -> Response:
        headers = {} if differences.no_request_id else {"X-ShuYou-RequestId": next(request_ids)}
        return Response(json.dumps(body), status, headers, media_type="application/json")

    def error(status: int, kind: str, message: str) -> Response:
        return answer({"error": {"code": str(status), "type": kind, "message": message}}, status)

    def authorised(request: Request) -> bool:
        return request.headers.get("authorization", "").startswith("Bearer ")

    async def create(request: Request) -> Response:
        if not authorised(request):
            return error(401, "access_denied", "You have no permission to access this resource")
        body = json.loads(await request.body())
        function = spec.models.get(body.get("model", ""))
        if function is None:
            return error(400, "invalid_params", f"model: Model {body.get('model')} is not valid")
        task_id = next(ids)
        tasks[task_id] = {"function": function, "created": clock.now(), "base": str(request.base_url).rstrip("/")}
        return answer({"data": {"task_id": task_id, "task_status": _status(tasks[task_id], clock, differences)}})

    async def poll(request: Request) -> Response:
        task_id = request.path_params["prediction_id"]
        task = tasks.get(task_id)
        if task is None:
            kind = "task_not_found" if differences.error_type else "not_found"
            return error(404, kind, f"prediction_id: Prediction not found: no task {task_id!r} for this key")
        status = _status(task, clock, differences)
        data: dict[str, Any] = {"task_id": task_id, "task_status": status}
        if differences.extra_field:
            data["created_at"] = "2026-12-02T00:00:00Z"
        body: dict[str, Any] = {"code": 0 if differences.integer_code else "0", "data": data}
        if status == "success":
            ext, _, _ = FILES[task["function"]]
            url = f"{task['base']}/files/{task_id}/0.{ext}?e=1796256250&token=t0k3n-{task_id[:8]}"
            data["output"] = [{"type": task["function"], task["function"]: url}]
            body["usage"] = {"upstream_cost": 0.04, "discount": 0.01, "discount_percent": 0.75, "cost": 0.03}
        body["request_id"] = next(request_ids)
        return answer(body)

    async def credits(request: Request) -> Response:
        return answer({"data": {"total_credits": 100, "total_usage": 25, "balance": 75}})

    async def file(request: Request) -> Response:
        task = tasks.get(request.path_params["task_id"])
        if task is None:
            return error(404, "not_found", "no such file")
        _, content_type, data = FILES[task["function"]]
        return Response(data, media_type=content_type)

    return Starlette(
        routes=[
            Route("/v1/predictions", create, methods=["POST"]),
            Route("/v1/predictions/{prediction_id}", poll, methods=["GET"]),
            Route("/v1/credits", credits, methods=["GET"]),
            Route("/files/{task_id}/{name}", file, methods=["GET"]),
        ]
    )


def _status(task: dict[str, Any], clock: StandinClock, differences: Differences) -> str:
    elapsed = clock.now() - task["created"]
    duration = DURATIONS[task["function"]] * differences.slower
    if elapsed >= duration:
        return "success"
    if differences.queued and elapsed < duration / 6:
        return "queued"
    return "processing"
