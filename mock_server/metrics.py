"""Prometheus metrics of one mock at `GET /metrics` (text format, prometheus-client): requests and latency
by operation, tasks by status, webhook deliveries by outcome, pending deliveries and retries.

Requests are counted by the middleware as they end (`observe`). In one process that is a plain dict of counts
and bucket tallies, filled in batches (`fold`) and turned into the counter and histogram families when
Prometheus scrapes: 0.8 µs per request before batching instead of 2.5 µs for prometheus-client's
`Counter.inc` + `Histogram.observe` (a lock and a value object each; timeit, 2026-12-02; the exposition is
the same, less the `_created` samples). Tasks and deliveries are counted when Prometheus scrapes, from the
store and the webhook dispatcher (a custom collector), so the service and the dispatcher carry no metrics code.
A shared store counts its deliveries without reading them (`Store.delivery_counts`: 250 ms of event loop with
12,000 pending on Redis before, when every record was read and decoded; 2026-12-04), and the middleware renders
such a scrape on a worker thread (`Metrics.scrape`), so that a hung Redis holds the scrape, not the loop.
prometheus-client is imported when the first `Metrics` is built (the middleware does that when the app first
runs), never by `import mock_server`.

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
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mock_server.store.codec import delivery_counts
from mock_server.webhooks.journal import DeliveryStatus

if TYPE_CHECKING:
    from mock_server.context import MockContext

__all__ = ["CONTENT_TYPE", "MULTIPROC_ENV", "Metrics", "prepare_multiprocess"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DELIVERY_OUTCOMES = tuple(str(s) for s in DeliveryStatus)  # each outcome is published, 0 included
# Latency buckets in seconds: the mock answers in well under a millisecond to ~50 ms; 10 s covers X-Mock-Latency.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_LE = {bound: repr(bound) for bound in BUCKETS} | {float("inf"): "+Inf"}  # the `le` labels prometheus-client writes
_REFRESH_SECONDS = 1.0
# One process: observations are kept as tuples and counted in batches of this many (and before each scrape):
# the tallies' dict and bisect work in one loop, not one call per request (~3,800 to ~900 instructions per
# request, callgrind, 2026-12-02).
_FOLD_EVERY = 256


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


def _by_outcome(ctx: MockContext) -> tuple[dict[str, int], int]:
    """Deliveries per outcome (each one, 0 included) and retries: from the store's tallies when several processes
    share it (every process's deliveries, none read), else from this process's journal."""
    if ctx.store.multiprocess:
        found, retries = ctx.store.delivery_counts()
    else:
        journal = ctx.webhooks.list() if ctx.webhooks is not None else []
        found, retries = delivery_counts((str(d.status), len(d.attempts), "") for d in journal)
    return dict.fromkeys(DELIVERY_OUTCOMES, 0) | found, retries


_REQUESTS_HELP = "Requests answered, by operation (the spec's operationId or the control route) and status."
_LATENCY_HELP = "Time from the request's arrival to the end of its answer, by operation."


# One process's request counts: by (operation, status); per operation the count per bucket and the sum.
_Tallies = tuple[dict[tuple[str, int], int], dict[str, list[int]], dict[str, float]]


def _request_families(
    counts: dict[tuple[str, int], int], tallies: dict[str, list[int]], sums: dict[str, float]
) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

    requests = CounterMetricFamily("shuyou_mock_requests", _REQUESTS_HELP, labels=["operation", "status"])
    for (operation, status), count in counts.items():
        requests.add_metric([operation, str(status)], count)
    yield requests
    latency = HistogramMetricFamily("shuyou_mock_request_duration_seconds", _LATENCY_HELP, labels=["operation"])
    for operation, tally in tallies.items():
        cumulative, buckets = 0, []
        for bound, count in zip((*BUCKETS, float("inf")), tally, strict=False):
            cumulative += count
            buckets.append((_LE[bound], cumulative))
        latency.add_metric([operation], buckets, sums[operation])
    yield latency


class _Scrape:
    """One scrape's families: requests as counted when the scrape began (one process: a copy of the tallies,
    taken on the event loop), then tasks and (one process) deliveries read from the store as it runs.

    Built on the event loop by `Metrics.scrape()`; `collect()` may run on a worker thread: on a shared store it
    makes store round trips (status counts, delivery tallies), which a hung Redis holds for its timeout.
    """

    def __init__(self, metrics: Metrics, requests: _Tallies | None) -> None:
        self._metrics = metrics
        self._requests = requests

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        m = self._metrics
        ctx = m.context
        if self._requests is not None:
            yield from _request_families(*self._requests)
        else:
            yield from m._registry.collect()  # multiprocess: every process's files
        tasks = GaugeMetricFamily("shuyou_mock_tasks", "Tasks in the store by status.", labels=["status"])
        for status, count in ctx.store.status_counts().items():
            tasks.add_metric([status], count)
        yield tasks
        if ctx.webhooks is None or m._deliveries is not None:  # per-process gauges: in the files
            return
        counts, retries = _by_outcome(ctx)
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
        self._registry = prometheus_client.CollectorRegistry()  # multiprocess: the files' collector; else empty
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
        if self.multiprocess and not context.store.multiprocess:
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
        counts, retries = _by_outcome(self.context)
        by_outcome, pending, retry_gauge = self._deliveries
        for outcome, count in counts.items():
            by_outcome.labels(outcome).set(count)
        pending.set(counts["pending"])
        retry_gauge.set(retries)

    def scrape(self) -> Callable[[], bytes]:
        """A scrape begun now, to render on any thread: the text exposition of every metric (all workers' in
        multiprocess mode). This process's requests are counted now (call it on the event loop); the store's
        tasks and deliveries are read when the result is called."""
        from prometheus_client import generate_latest

        if self._deliveries is not None:
            self._publish_deliveries()
        requests: _Tallies | None = None
        if not self.multiprocess:
            self.fold()
            requests = (dict(self._counts), {op: list(t) for op, t in self._tallies.items()}, dict(self._sums))
        collector = _Scrape(self, requests)
        return lambda: generate_latest(collector)

    def render(self) -> bytes:
        """The text exposition of every metric, now (all workers' in multiprocess mode)."""
        return self.scrape()()

    def close(self) -> None:
        """In multiprocess mode, drop this process's live gauges (prometheus-client's `mark_process_dead`)."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call,unused-ignore]
