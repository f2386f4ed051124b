from __future__ import annotations

import threading
import time
from typing import Any

import anyio.to_thread
import httpx2
import pytest
from contract_mocks import KEY, Exchange, Rewrite, build_mock, harness, serve

from contracts.budget import Budget
from contracts.findings import Kind
from contracts.gate import GATE_HEADER, Gate, Route
from contracts.serving import Served, serve_in_thread
from contracts.spec import load


class Hangs:
    """Holds the first GET /v1/credits unanswered until `release` is set (after the run): no race with a timer."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.release = threading.Event()
        self.held = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/credits" and not self.held:
            self.held += 1
            await anyio.to_thread.run_sync(self.release.wait, abandon_on_cancel=True)
        await self.app(scope, receive, send)


def test_a_timeout_is_a_transport_finding_not_a_contract_one(served: list[Served]) -> None:
    target = Hangs(build_mock())
    served.append(serve(target))
    try:
        # The held request times out whatever the bound; 5 s only has to cover every other request on a loaded
        # machine (the probe of /_mock/health first: a 0.3 s bound made the whole run exit 2 under load).
        result = harness(served[0].base_url, phases=("fuzzing",), request_timeout=5.0, max_examples=2)
    finally:
        target.release.set()

    assert target.held == 1
    kinds = {(f.rule, f.kind) for f in result.findings}
    assert ("transport", Kind.TRANSPORT) in kinds
    assert not [f for f in result.findings if f.kind is Kind.CONTRACT], result.findings
    assert result.exit_code == 1


def test_the_gate_holds_the_budget_under_concurrent_creates(served: list[Served]) -> None:
    accepted: list[str] = []

    def count(ex: Exchange) -> None:
        if ex.method == "POST" and 200 <= ex.status < 300:
            accepted.append(ex.json()["data"]["task_id"])

    target = serve(Rewrite(build_mock(), on_response=count))
    routes = [Route(op.method, op.path, op.operation_id) for op in load().operations.values()]
    gate = serve_in_thread(Gate(target.base_url, Budget(5), routes))
    served.extend([target, gate])
    body = {"model": "gpt-image-2", "function": "image", "input": {"prompt": "a lighthouse"}}
    answers: list[int] = []
    barrier = threading.Barrier(8)

    def client() -> None:
        with httpx2.Client(base_url=gate.base_url, headers={"Authorization": f"Bearer {KEY}"}) as http:
            barrier.wait()
            for _ in range(6):
                response = http.post("/v1/predictions", json=body)
                answers.append(response.status_code if not response.headers.get(GATE_HEADER) else -1)

    threads = [threading.Thread(target=client) for _ in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(accepted) == answers.count(200) == 5
    assert answers.count(-1) == 8 * 6 - 5
    assert time.monotonic() - started < 30


def test_an_unanswered_create_keeps_its_slot(served: list[Served]) -> None:
    async def hangs(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            import anyio

            await anyio.sleep(2)

    target = serve_in_thread(hangs)
    routes = [Route(op.method, op.path, op.operation_id) for op in load().operations.values()]
    budget = Budget(2)
    gate = serve_in_thread(Gate(target.base_url, budget, routes, timeout=0.2))
    served.extend([target, gate])

    with httpx2.Client(base_url=gate.base_url) as http:
        answers = [http.post("/v1/predictions", json={}) for _ in range(3)]

    assert [(a.status_code, a.headers[GATE_HEADER]) for a in answers] == [
        (504, "transport"),
        (504, "transport"),
        (418, "budget"),
    ]
    assert budget.state().spent == 2  # the target may have accepted them


def test_a_server_whose_startup_never_completes_fails_within_the_deadline() -> None:
    release = threading.Event()

    async def stalls(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await anyio.to_thread.run_sync(release.wait)  # startup hangs until the test lets it go
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})

    with pytest.raises(RuntimeError, match=r"did not start within 0.2 s: its lifespan startup never completed"):
        serve_in_thread(stalls, timeout=0.2)
    release.set()
