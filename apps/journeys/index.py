"""The process's similarity index over every customer's journey, built on first use and kept
current two ways: the ingest hook updates the customers it touched (in the ingesting process), and
whenever the cached events frame is re-read (see frame_cache) the customers whose events changed
are found by a per-customer signature and updated, so other processes catch up without a rebuild.
It is tied to the graph connection it was built from: switching stores rebuilds it."""
from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import pandas as pd
from django.conf import settings

import graph
from apps.journeys import frame_cache
from apps.journeys.analyzers.base import sequences
from apps.journeys.analyzers.similarity import ShingleIndex

_lock = threading.RLock()
_state: dict[str, object] = {}


def lsh_perms() -> int | None:
    """JOURNEYS_SIMILARITY_LSH_PERMS turns on MinHash LSH candidates (approximate; only for logs too
    large for the exact scan). Unset, queries scan the inverted index exactly."""
    value = getattr(settings, "JOURNEYS_SIMILARITY_LSH_PERMS", None)
    return int(value) if value else None


def _signature(frame: pd.DataFrame) -> pd.DataFrame:
    """Per customer: event count and sum of timestamps, which change when any event is added or moved."""
    return frame.groupby("customer_id", sort=False)["ts"].agg(["size", "sum"])


def get_index() -> ShingleIndex:
    connection = graph.get_connection()
    frame = frame_cache.all_events()
    with _lock:
        index = _state.get("index")
        if isinstance(index, ShingleIndex) and _state.get("connection") is connection:
            if _state.get("frame") is not frame:
                _catch_up(index, frame)
            return index
        built = ShingleIndex.build(sequences(frame), lsh_perms=lsh_perms())
        _state.update(index=built, connection=connection, frame=frame, signature=_signature(frame))
        return built


def _catch_up(index: ShingleIndex, frame: pd.DataFrame) -> None:
    old = _state["signature"]
    assert isinstance(old, pd.DataFrame)
    new = _signature(frame)
    joined = new.add_suffix("_new").join(old.add_suffix("_old"), how="outer")
    changed = joined[(joined["size_new"] != joined["size_old"]) | (joined["sum_new"] != joined["sum_old"])]
    if len(changed):
        ids = [str(c) for c in changed.index]
        fresh = sequences(frame[frame["customer_id"].isin(ids)])
        for customer_id in ids:
            index.update(customer_id, fresh.get(customer_id, ()))
    _state.update(frame=frame, signature=new)


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
