"""The process's similarity index over every customer's journey, built on first use and kept
current by the ingest hook. It is tied to the graph connection it was built from, so switching
stores (tests, GRAPH_URL changes) rebuilds it instead of answering from another store."""
from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import graph
from apps.journeys import frame_cache
from apps.journeys.analyzers.base import sequences
from apps.journeys.analyzers.similarity import ShingleIndex

_lock = threading.Lock()
_state: dict[str, object] = {}


def get_index() -> ShingleIndex:
    connection = graph.get_connection()
    with _lock:
        index = _state.get("index")
        if isinstance(index, ShingleIndex) and _state.get("connection") is connection:
            return index
    built = ShingleIndex.build(sequences(frame_cache.all_events()))
    with _lock:
        _state.update(index=built, connection=connection)
    return built


def is_built() -> bool:
    with _lock:
        return "index" in _state and _state.get("connection") is graph.get_connection()


def refresh(journeys: Mapping[str, Sequence[str]]) -> int:
    """Put the customers' current journeys into the index, if one has been built (else nothing to do:
    the first query builds it from the store). Returns how many customers were updated."""
    if not is_built():
        return 0
    index = get_index()
    with _lock:
        for customer_id, sequence in journeys.items():
            index.update(customer_id, sequence)
    return len(journeys)


def reset() -> None:
    with _lock:
        _state.clear()
