"""Prometheus metrics and request ids: what an operator scrapes and greps.

Metrics live in prometheus_client's process registry. Under gunicorn with several workers set
`PROMETHEUS_MULTIPROC_DIR` to an empty folder (before the workers start) so `/metrics` adds up every
worker's samples. Each request gets an id (the caller's `X-Request-ID` when it is sane, else a new
one) that every log line of the request carries and the response echoes."""
from __future__ import annotations

import contextvars
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterable

from django.http import HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

REQUEST_SECONDS = Histogram(
    "journeyhub_request_seconds", "Time to answer one HTTP request, by route.", ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DECISIONS = Counter("journeyhub_decisions", "Decisions answered, by kind, contact-flow action and outcome.",
                    ["kind", "action", "outcome"])
DECISION_FEEDBACK = Counter("journeyhub_decision_feedback",
                            "Outcomes callers confirmed after a decision, by decision kind and how they compare.",
                            ["kind", "outcome"])
INGEST_ROWS = Counter("journeyhub_ingest_rows", "Rows ingested, by what became of them.", ["outcome"])
INGEST_LAG_SECONDS = Histogram(
    "journeyhub_ingest_lag_seconds", "Age of the newest event of each written chunk when it landed.",
    buckets=(1, 5, 30, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400),
)

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def exposition() -> bytes:
    """The text a Prometheus scrape reads: this process's registry, or every worker's samples when
    `PROMETHEUS_MULTIPROC_DIR` is set (gunicorn with several workers)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_collector)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def record_ingest(*, loaded: int = 0, duplicates: int = 0, quarantined: int = 0) -> None:
    for outcome, count in (("loaded", loaded), ("duplicate", duplicates), ("quarantined", quarantined)):
        if count:
            INGEST_ROWS.labels(outcome).inc(count)


def record_lag(newest_event_ms: int) -> None:
    INGEST_LAG_SECONDS.observe(max(time.time() - newest_event_ms / 1000, 0.0))


JobCounts = Callable[[], dict[str, int]]
_job_sources: dict[str, JobCounts] = {}


def register_job_source(kind: str, counts: JobCounts) -> None:
    """An app that runs long work says how to count it by status (called from its AppConfig.ready)."""
    _job_sources[kind] = counts


class JobQueueCollector(Collector):
    """Long work waiting or running, read from the database at scrape time: a stuck queue shows as a
    depth that does not fall."""

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily("journeyhub_jobs", "Long-running work by kind and status.",
                                   labels=["kind", "status"])
        for kind, counts in sorted(_job_sources.items()):
            for status, count in sorted(counts().items()):
                family.add_metric([kind, status], count)
        yield family


_collector = JobQueueCollector()
REGISTRY.register(_collector)


class RequestIdFilter(logging.Filter):
    """Adds the current request id to every record, so a JSON log line can be traced to its request."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def request_id_for(incoming: str) -> str:
    """The caller's X-Request-ID when it is sane, else a new one: 32 hex digits from the process's
    pseudo-random generator (re-seeded in every forked worker). An id only tells requests apart; it is
    no secret, so it need not cost a system call for kernel randomness on every request."""
    return incoming if _SANE_ID.match(incoming) else f"{random.getrandbits(128):032x}"


class ObservabilityMiddleware:
    """Request id in, request id out, and the request's latency by route (the URL pattern, not the
    path, so customer ids do not explode the label set)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = request_id_for(incoming)
        token = request_id.set(rid)
        start = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None and match.route else "unmatched"
        REQUEST_SECONDS.labels(request.method or "", route, str(response.status_code)).observe(
            time.perf_counter() - start)
        response["X-Request-ID"] = rid
        return response
