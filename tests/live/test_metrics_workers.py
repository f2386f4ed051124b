"""GET /metrics over real sockets: webhook deliveries, pending and retries with a real receiver; and two mock
processes writing one PROMETHEUS_MULTIPROC_DIR, scraped as one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts.receiver import WebhookReceiver
from mock_server.app import create_app
from mock_server.clock import FakeClock
from mock_server.metrics import prepare_multiprocess
from mock_server.settings import Settings
from mock_server.testing import serve_in_thread
from mock_server.webhooks.settings import DEV_SECRET, WebhookSettings
from tests._support import eventually
from tests.live._cli import served

ROOT = Path(__file__).resolve().parents[2]
KEY = {"Authorization": "Bearer sk-metrics"}
BODY = {"model": "gemini-2.5-flash-image", "function": "image", "input": {"prompt": "a cat"}}


def value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return 0.0


def test_deliveries_pending_and_retries_are_scraped() -> None:
    settings = Settings(webhooks=WebhookSettings(backoff_base=10.0, jitter=0.0, max_attempts=3))
    clock = FakeClock(start=time.time())
    with WebhookReceiver([DEV_SECRET]) as receiver, serve_in_thread(create_app(settings, clock=clock)) as live:
        receiver.set_behaviour(script=[500, 200])
        with httpx2.Client(base_url=live.base_url, headers=KEY) as http:
            body = {**BODY, "webhook": receiver.url}
            assert http.post("/v1/predictions", json=body, headers={"X-Mock-Duration": "1"}).status_code == 200

            def scrape(name: str, **labels: str) -> float:
                return value(http.get("/metrics").text, name, **labels)

            clock.advance(1)
            eventually(lambda: len(receiver.deliveries()) == 1)  # the first attempt got a 500: a retry is due
            eventually(lambda: scrape("shuyou_mock_webhook_deliveries_pending") == 1)
            assert scrape("shuyou_mock_webhook_deliveries", outcome="pending") == 1
            assert scrape("shuyou_mock_webhook_retries") == 0
            clock.advance(10)
            eventually(lambda: scrape("shuyou_mock_webhook_deliveries", outcome="delivered") == 1)
            text = http.get("/metrics").text
        live.app.state.mock.journal.check()
    assert value(text, "shuyou_mock_webhook_deliveries_pending") == 0
    assert value(text, "shuyou_mock_webhook_retries") == 1
    assert value(text, "shuyou_mock_tasks", status="success") == 1


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[list[str]]:
    """Two mock processes on one SQLite store and one multiprocess directory, as `--workers 2` would run them."""
    (tmp_path / "metrics").mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    args = ("--time-scale", "0", "--store", f"sqlite:///{tmp_path / 'mock.db'}")
    with served(*args, env=env) as first, served(*args, env=env) as second:
        yield [first, second]


def test_two_processes_writing_one_dir_are_scraped_as_one(two_workers: list[str]) -> None:
    first, second = two_workers
    for base, count in ((first, 2), (second, 3)):
        with httpx2.Client(base_url=base, headers=KEY) as http:
            for _ in range(count):
                assert http.post("/v1/predictions", json=BODY).status_code == 200
    for base in (first, second):  # whichever worker answers the scrape reports both
        text = httpx2.get(f"{base}/metrics").text
        assert value(text, "shuyou_mock_requests_total", operation="createPrediction", status="200") == 5
        assert value(text, "shuyou_mock_request_duration_seconds_count", operation="createPrediction") == 5
        tasks = sum(value(text, "shuyou_mock_tasks", status=s) for s in ("processing", "success", "failed"))
        assert tasks == 5  # read from the shared store, not summed per process


def test_prepare_multiprocess_creates_or_wipes_the_directory(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    created = prepare_multiprocess(environ)
    assert created.is_dir()
    assert environ["PROMETHEUS_MULTIPROC_DIR"] == str(created)
    created.rmdir()
    given = tmp_path / "given"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"stale")
    assert prepare_multiprocess({"PROMETHEUS_MULTIPROC_DIR": str(given)}) == given
    assert list(given.iterdir()) == []  # a previous run's files would add to this run's counters


WORKER = """
import sys
from types import SimpleNamespace
from mock_server.metrics import Metrics

pending, delivered = int(sys.argv[1]), int(sys.argv[2])
attempts = lambda n: tuple(range(n))
deliveries = [SimpleNamespace(status="pending", attempts=attempts(2)) for _ in range(pending)]
deliveries += [SimpleNamespace(status="delivered", attempts=attempts(1)) for _ in range(delivered)]
store = SimpleNamespace(status_counts=dict, multiprocess=False)
context = SimpleNamespace(webhooks=SimpleNamespace(list=lambda: deliveries), store=store)
metrics = Metrics(context)
metrics.observe("createPrediction", 200, 0.001)
metrics.render()  # publishes this worker's delivery gauges; the process then ends without marking itself dead
"""


def test_delivery_gauges_of_two_workers_are_summed(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    env = {**os.environ, "PYTHONPATH": str(ROOT), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for pending, delivered in ((1, 4), (2, 0)):
        subprocess.run([sys.executable, "-c", WORKER, str(pending), str(delivered)], env=env, check=True, timeout=60)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    text = generate_latest(registry).decode()
    assert value(text, "shuyou_mock_webhook_deliveries_pending") == 3
    assert value(text, "shuyou_mock_webhook_deliveries", outcome="delivered") == 4
    assert value(text, "shuyou_mock_webhook_retries") == 3  # one retry per pending delivery, from both workers
    assert value(text, "shuyou_mock_requests_total", operation="createPrediction", status="200") == 2
