"""Graph call latency for Prometheus: every traversal or script the gateway sends, by backend and outcome.

Kept in graph/ (dependencies point from the apps to the gateway, never back); the process-wide
registry makes these part of what `/metrics` serves."""
from __future__ import annotations

import time
from types import TracebackType

from prometheus_client import Histogram

GRAPH_CALL_SECONDS = Histogram(
    "journeyhub_graph_call_seconds", "Time of one call to the graph store.", ["backend", "outcome"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


_children: dict[str, tuple[Histogram, Histogram]] = {}


class timed_call:  # noqa: N801 - read as a function: `with timed_call(backend):`
    """Observe the wrapped call's duration; a call that raises is counted with outcome "error".

    A class with the metric's two children bound once per backend: a decision makes one graph call
    while a caller waits, and a generator context manager plus a `labels()` lookup per call cost
    about a tenth of the Python time such a request holds the interpreter lock for."""

    __slots__ = ("_children", "_start")

    def __init__(self, backend: str) -> None:
        children = _children.get(backend)
        if children is None:
            children = _children[backend] = (GRAPH_CALL_SECONDS.labels(backend, "error"),
                                             GRAPH_CALL_SECONDS.labels(backend, "ok"))
        self._children = children
        self._start = 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._children[kind is None].observe(time.perf_counter() - self._start)
