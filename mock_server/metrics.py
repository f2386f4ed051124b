"""Prometheus metrics of one mock at `GET /metrics` (text format, prometheus-client): requests and latency
by operation, tasks by status, webhook deliveries by outcome, pending deliveries and retries.

Requests are counted by the middleware as they end (`observe`). In one process that is a plain dict of counts
and bucket tallies, filled in batches (`fold`) and turned into the counter and histogram families when
Prometheus scrapes: 0.8 µs per request before batching instead of 2.5 µs for prometheus-client's
`Counter.inc` + `Histogram.observe` (a lock and a value object each; timeit, 2026-12-02; the exposition is
the same, less the `_created` samples). Tasks and deliveries are read
when Prometheus scrapes, from the store and the webhook dispatcher (a custom collector), so the service and
the dispatcher carry no metrics code. prometheus-client is imported when the first `Metrics` is built (the
middleware does that when the app first runs), never by `import mock_server`.

Several workers: prometheus-client's multiprocess mode, which it switches on itself when
`PROMETHEUS_MULTIPROC_DIR` is set before it is imported (`prepare_multiprocess` creates the directory and sets
the variable; the CLI calls it for `--workers N > 1`). Request counters and histograms then live in one file
per process and every scrape sums all of them; tasks and deliveries come from the shared store (the same in
every worker: each delivery counted once, whichever worker holds it; before, each worker published every
process's deliveries as its own and `--workers 2` showed each twice). Only processes that share the directory
but not a store (no `--workers` run does) publish their own delivery counts as `livesum` gauges, refreshed on
their scrapes and at most once a second while they serve requests.
"""

from __future__ import annotations

import bisect
import os
import tempfile
import time
from collections.abc import Iterator, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mock_server.context import MockContext

__all__ = ["CONTENT_TYPE", "MULTIPROC_ENV", "Metrics", "prepare_multiprocess"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DELIVERY_OUTCOMES = ("pending", "delivered", "exhausted", "blocked")
# Latency buckets in seconds: the mock answers in well under a millisecond to ~50 ms; 10 s covers X-Mock-Latency.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_LE = {bound: repr(bound) for bound in BUCKETS} | {float("inf"): "+Inf"}  # the `le` labels prometheus-client writes
_REFRESH_SECONDS = 1.0
# One process: observations are kept as tuples and counted in batches of this many (and before each scrape):
# the tallies' dict and bisect work in one loop, not one call per request (~3,800 to ~900 instructions per
# request, callgrind, 2026-12-02).
_FOLD_EVERY = 256


class _Delivery(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def attempts(self) -> Sequence[object]: ...


def prepare_multiprocess(environ: MutableMapping[str, str]) -> Path:
    """The multiprocess directory: `PROMETHEUS_MULTIPROC_DIR` if given, else a new temp dir (set in `environ`).

    Files left by an earlier run are removed (prometheus-client's rule: the directory is wiped before start).
    """
    given = environ.get(MULTIPROC_ENV)
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="shuyou-mock-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    environ[MULTIPROC_ENV] = str(path)
    return path


def delivery_counts(deliveries: Sequence[_Delivery]) -> tuple[dict[str, int], int]:
    """Deliveries per outcome, and retries (attempts after each delivery's first)."""
    counts = dict.fromkeys(DELIVERY_OUTCOMES, 0)
    retries = 0
    for d in deliveries:
        counts[str(d.status)] = counts.get(str(d.status), 0) + 1
        retries += max(0, len(d.attempts) - 1)
    return counts, retries


_REQUESTS_HELP = "Requests answered, by operation (the spec's operationId or the control route) and status."
_LATENCY_HELP = "Time from the request's arrival to the end of its answer, by operation."


class _StateCollector:
    """Requests (one process), tasks and (one process) deliveries, read at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def _requests(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        m = self._metrics
        m.fold()
        requests = CounterMetricFamily("shuyou_mock_requests", _REQUESTS_HELP, labels=["operation", "status"])
        for (operation, status), count in list(m._counts.items()):
            requests.add_metric([operation, str(status)], count)
        yield requests
        latency = HistogramMetricFamily("shuyou_mock_request_duration_seconds", _LATENCY_HELP, labels=["operation"])
        for operation, tally in list(m._tallies.items()):
            cumulative, buckets = 0, []
            for bound, count in zip((*BUCKETS, float("inf")), tally, strict=False):
                cumulative += count
                buckets.append((_LE[bound], cumulative))
            latency.add_metric([operation], buckets, m._sums[operation])
        yield latency

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        ctx = self._metrics.context
        if not self._metrics.multiprocess:
            yield from self._requests()
        tasks = GaugeMetricFamily("shuyou_mock_tasks", "Tasks in the store by status.", labels=["status"])
        for status, count in ctx.store.status_counts().items():
            tasks.add_metric([status], count)
        yield tasks
        if ctx.webhooks is None or self._metrics._deliveries is not None:  # per-process gauges: in the files
            return
        counts, retries = delivery_counts(ctx.webhooks.list())
        by_outcome = GaugeMetricFamily(
            "shuyou_mock_webhook_deliveries", "Webhook deliveries in the journal by outcome.", labels=["outcome"]
        )
        for outcome, count in counts.items():
            by_outcome.add_metric([outcome], count)
        yield by_outcome
        yield GaugeMetricFamily(
            "shuyou_mock_webhook_deliveries_pending", "Deliveries waiting for an attempt.", value=counts["pending"]
        )
        yield GaugeMetricFamily(
            "shuyou_mock_webhook_retries", "Attempts after the first, over the journal's deliveries.", value=retries
        )


class Metrics:
    """The metrics of one app; `observe()` per request, `render()` per scrape."""

    def __init__(self, context: MockContext) -> None:
        import prometheus_client
        from prometheus_client import values

        self.context = context
        self.multiprocess = values.ValueClass is not values.MutexValue
        self._registry = prometheus_client.CollectorRegistry(auto_describe=True)
        # One process: plain tallies, read by _StateCollector at scrape time (see the module docstring).
        self._counts: dict[tuple[str, int], int] = {}
        self._tallies: dict[str, list[int]] = {}  # operation -> count per bucket of BUCKETS, then +Inf
        self._sums: dict[str, float] = {}
        self._pending: list[tuple[str, int, float]] = []  # observations not yet in the tallies (`fold`)
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._deliveries: Any = None  # the livesum gauges of processes that share metrics but not a store
        self._refreshed = 0.0
        if self.multiprocess:  # the files are the registry: prometheus-client's own counter and histogram
            from prometheus_client import multiprocess

            self._requests = prometheus_client.Counter(
                "shuyou_mock_requests", _REQUESTS_HELP, ["operation", "status"], registry=None
            )
            self._latency = prometheus_client.Histogram(
                "shuyou_mock_request_duration_seconds", _LATENCY_HELP, ["operation"], buckets=BUCKETS, registry=None
            )
            multiprocess.MultiProcessCollector(self._registry)  # type: ignore[no-untyped-call,unused-ignore]
        if self.multiprocess and not getattr(context.store, "multiprocess", False):
            self._deliveries = (
                prometheus_client.Gauge(
                    "shuyou_mock_webhook_deliveries",
                    "Webhook deliveries in the journal by outcome.",
                    ["outcome"],
                    multiprocess_mode="livesum",
                    registry=None,
                ),
                prometheus_client.Gauge(
                    "shuyou_mock_webhook_deliveries_pending",
                    "Deliveries waiting for an attempt.",
                    multiprocess_mode="livesum",
                    registry=None,
                ),
                prometheus_client.Gauge(
                    "shuyou_mock_webhook_retries",
                    "Attempts after the first, over the journal's deliveries.",
                    multiprocess_mode="livesum",
                    registry=None,
                ),
            )
        self._registry.register(_StateCollector(self))

    def observe(self, operation: str, status: int, seconds: float) -> None:
        if not self.multiprocess:
            pending = self._pending
            pending.append((operation, status, seconds))
            if len(pending) >= _FOLD_EVERY:
                self.fold()
            return
        children = self._children.get((operation, status))
        if children is None:  # labels() costs a lock and a dict lookup; the label set is small and fixed
            children = self._children[(operation, status)] = (
                self._requests.labels(operation, str(status)),
                self._latency.labels(operation),
            )
        children[0].inc()
        children[1].observe(seconds)
        if self._deliveries is not None and time.monotonic() - self._refreshed > _REFRESH_SECONDS:
            self._publish_deliveries()

    def fold(self) -> None:
        """Count the observations kept since the last fold into the tallies (one process; before a scrape)."""
        pending, self._pending = self._pending, []
        counts, tallies, sums = self._counts, self._tallies, self._sums
        for operation, status, seconds in pending:
            label = (operation, status)
            counts[label] = counts.get(label, 0) + 1
            tally = tallies.get(operation)
            if tally is None:
                tally = tallies[operation] = [0] * (len(BUCKETS) + 1)
                sums[operation] = 0.0
            tally[bisect.bisect_left(BUCKETS, seconds)] += 1  # le: a value equal to a bound counts in it
            sums[operation] += seconds

    def _publish_deliveries(self) -> None:
        self._refreshed = time.monotonic()
        webhooks = self.context.webhooks
        counts, retries = delivery_counts(webhooks.list() if webhooks is not None else [])
        by_outcome, pending, retry_gauge = self._deliveries
        for outcome, count in counts.items():
            by_outcome.labels(outcome).set(count)
        pending.set(counts["pending"])
        retry_gauge.set(retries)

    def render(self) -> bytes:
        """The text exposition of every metric (all workers' in multiprocess mode)."""
        from prometheus_client import generate_latest

        if self._deliveries is not None:
            self._publish_deliveries()
        return generate_latest(self._registry)

    def close(self) -> None:
        """In multiprocess mode, drop this process's live gauges (prometheus-client's `mark_process_dead`)."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call,unused-ignore]
