"""The whole events log as one cached frame, so each analytics question does not read every event
out of the graph again. Reading all events is the slow part of a question; cutting the cached frame
by date, channel or customers is fast. The cache belongs to one graph connection, is dropped by the
ingest hook in this process, and expires after JOURNEYS_FRAME_CACHE_SECONDS (default 60) so other
processes' ingests show up soon after."""
from __future__ import annotations

import threading
import time

import pandas as pd
from django.conf import settings

import graph
from graph import journeys as graph_journeys

_lock = threading.Lock()
_cached: dict[str, object] = {}


def all_events() -> pd.DataFrame:
    connection = graph.get_connection()
    ttl = float(getattr(settings, "JOURNEYS_FRAME_CACHE_SECONDS", 60))
    with _lock:
        frame = _cached.get("frame")
        fresh = time.monotonic() - float(_cached.get("at", 0.0)) < ttl  # type: ignore[arg-type]
        if isinstance(frame, pd.DataFrame) and _cached.get("connection") is connection and fresh:
            return frame
    frame = graph_journeys.events_frame()
    with _lock:
        _cached.update(frame=frame, connection=connection, at=time.monotonic())
    return frame


def invalidate() -> None:
    with _lock:
        _cached.clear()
