"""GET /metrics in the Prometheus text format: requests by operation and status, latency, tasks by status."""

from __future__ import annotations

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mock_server.clock import FakeClock
from tests.app._support import KEY, create

pytestmark = pytest.mark.anyio


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def test_requests_are_counted_by_operation_and_status(client: httpx2.AsyncClient) -> None:
    await create(client)
    await create(client)
    await client.get("/v1/predictions/nope", headers=KEY)
    await client.get("/no/such/route")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert value(text, "shuyou_mock_requests_total", operation="createPrediction", status="200") == 2
    assert value(text, "shuyou_mock_requests_total", operation="getPrediction", status="404") == 1
    assert value(text, "shuyou_mock_requests_total", operation="unmatched", status="404") == 1
    assert value(text, "shuyou_mock_request_duration_seconds_count", operation="createPrediction") == 2
    assert value(text, "shuyou_mock_request_duration_seconds_bucket", operation="createPrediction", le="+Inf") == 2


async def test_tasks_by_status_follow_the_clock(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    await create(client)
    await create(client, headers={**KEY, "X-Mock-Outcome": "failed"})
    before = (await client.get("/metrics")).text
    assert value(before, "shuyou_mock_tasks", status="processing") == 2
    assert value(before, "shuyou_mock_tasks", status="success") == 0
    clock.advance(3600)
    after = (await client.get("/metrics")).text
    assert value(after, "shuyou_mock_tasks", status="processing") == 0
    assert value(after, "shuyou_mock_tasks", status="success") == 1
    assert value(after, "shuyou_mock_tasks", status="failed") == 1


async def test_metrics_counts_its_own_scrapes_and_refuses_post(client: httpx2.AsyncClient) -> None:
    await client.get("/metrics")
    text = (await client.get("/metrics")).text
    assert value(text, "shuyou_mock_requests_total", operation="metrics", status="200") == 1  # counted as it ends
    refused = await client.post("/metrics")
    assert refused.status_code == 405
    assert refused.json()["error"]["type"] == "method_not_allowed"
    assert refused.headers["allow"] == "GET, HEAD"


async def test_metrics_follow_the_control_surface_rules(client: httpx2.AsyncClient) -> None:
    response = await client.get("/metrics", headers={"Host": "rebind.example"})
    assert response.status_code == 421
