"""Graph call latency for Prometheus: every traversal or script the gateway sends, by backend and outcome.

Kept in graph/ (dependencies point from the apps to the gateway, never back); the process-wide
registry makes these part of what `/metrics` serves."""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Histogram

GRAPH_CALL_SECONDS = Histogram(
    "journeyhub_graph_call_seconds", "Time of one call to the graph store.", ["backend", "outcome"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


@contextmanager
def timed_call(backend: str) -> Iterator[None]:
    """Observe the wrapped call's duration; a call that raises is counted with outcome "error"."""
    start = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        GRAPH_CALL_SECONDS.labels(backend, outcome).observe(time.perf_counter() - start)
