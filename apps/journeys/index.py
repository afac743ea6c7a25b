"""The process's similarity index over every customer's journey, built on first use from the analytics
engine and kept current two ways: the ingest hook updates the customers it touched (in the ingesting
process), and whenever the event store's content changed since the index last looked (another
process ingested), the customers whose events changed are found by a per-customer signature (count
and sum of times, computed in the engine) and only they are re-read. It is tied to the engine and
graph connection it was built from: switching stores rebuilds it."""
from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import pandas as pd
from django.conf import settings

import graph
from apps.events import engine as analytics_engine
from apps.events.analytics import frames
from apps.journeys.analyzers.similarity import ShingleIndex

_lock = threading.RLock()
_state: dict[str, object] = {}


def lsh_perms() -> int | None:
    """JOURNEYS_SIMILARITY_LSH_PERMS turns on MinHash LSH candidates (approximate; only for logs too
    large for the exact scan). Unset, queries scan the inverted index exactly."""
    value = getattr(settings, "JOURNEYS_SIMILARITY_LSH_PERMS", None)
    return int(value) if value else None


def _source() -> tuple[object, analytics_engine.Engine]:
    return graph.get_connection(), analytics_engine.get_engine()


def get_index() -> ShingleIndex:
    connection, engine = _source()
    content = engine.fingerprint()
    with _lock:
        index = _state.get("index")
        if isinstance(index, ShingleIndex) and _state.get("connection") is connection \
                and _state.get("engine") is engine:
            if content is None or _state.get("content") != content:
                _catch_up(index, engine)
                _state["content"] = content
            return index
        built = ShingleIndex.build(frames.sequences(engine), lsh_perms=lsh_perms())
        _state.update(index=built, connection=connection, engine=engine, content=content,
                      signature=frames.signatures(engine))
        return built


def _catch_up(index: ShingleIndex, engine: analytics_engine.Engine) -> None:
    old = _state["signature"]
    assert isinstance(old, pd.DataFrame)
    new = frames.signatures(engine)
    joined = new.add_suffix("_new").join(old.add_suffix("_old"), how="outer")
    changed = joined[(joined["size_new"] != joined["size_old"]) | (joined["total_new"] != joined["total_old"])]
    if len(changed):
        ids = [str(c) for c in changed.index]
        fresh = frames.sequences(engine, analytics_engine.EventFilter(customer_ids=tuple(ids)))
        for customer_id in ids:
            index.update(customer_id, fresh.get(customer_id, ()))
    _state["signature"] = new


def lock() -> threading.RLock:
    """Held while querying, so an update never runs in the middle of a query."""
    return _lock


def is_built() -> bool:
    """Whether this process holds an index for the current store (only then is there one to update)."""
    with _lock:
        return isinstance(_state.get("index"), ShingleIndex) and _state.get("connection") is graph.get_connection()


def refresh(journeys: Mapping[str, Sequence[str]]) -> int:
    """Put the customers' current journeys into the index, if one has been built (else nothing to do:
    the first query builds it from the store). Returns how many customers were updated."""
    with _lock:
        index = _state.get("index")
        if not isinstance(index, ShingleIndex) or _state.get("connection") is not graph.get_connection():
            return 0
        for customer_id, sequence in journeys.items():
            index.update(customer_id, sequence)
        return len(journeys)


def reset() -> None:
    with _lock:
        _state.clear()
