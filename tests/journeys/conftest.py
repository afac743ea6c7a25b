"""A small hand-built journey set where every count is known (see the table below)."""
from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

T0 = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp() * 1000)  # a Monday, 00:00 UTC
MIN = 60_000

# customer, minutes after T0, type, channel, outcome
JOURNEYS = [
    ("c1", 0, "web_visit", "web", None), ("c1", 10, "call", "phone", None), ("c1", 60, "purchase", "web", None),
    ("c2", 0, "web_visit", "web", None), ("c2", 30, "call", "phone", None), ("c2", 90, "purchase", "web", None),
    ("c3", 0, "web_visit", "app", None), ("c3", 5, "chat", "chat", None), ("c3", 20, "call", "phone", None),
    ("c4", 0, "call", "phone", None), ("c4", 1440, "web_visit", "web", None), ("c4", 1500, "purchase", "web", None),
    ("c5", 2880, "web_visit", "web", None),
    ("c6", 0, "call", "phone", "abandoned"), ("c6", 60, "call", "phone", None),
    ("c6", 1500, "chat", "chat", "resolved"),
]


def make_frame(rows: list[tuple[str, int, str, str, str | None]]) -> pd.DataFrame:
    """The canonical events frame from (customer, minutes after T0, type, channel, outcome) rows."""
    records = [{"customer_id": c, "event_id": f"{c}-{i:03d}", "type": t, "channel": ch, "ts": T0 + m * MIN,
                "intent": None, "outcome": o, "attributes": {}} for i, (c, m, t, ch, o) in enumerate(rows)]
    frame = pd.DataFrame(records, columns=["customer_id", "event_id", "type", "channel", "ts", "intent",
                                           "outcome", "attributes"])
    frame["ts"] = frame["ts"].astype("int64")
    return frame.sort_values(["customer_id", "ts", "event_id"], kind="stable").reset_index(drop=True)


@pytest.fixture
def journeys() -> pd.DataFrame:
    return make_frame(JOURNEYS)


def write_journeys(rows: list[tuple[str, int, str, str, str | None]], *, attributes: dict | None = None) -> None:
    """Write (customer, minutes after T0, type, channel, outcome) rows into the graph as events."""
    from graph import journeys as graph_journeys
    from graph.schema import EventRecord

    records = [EventRecord(event_id=f"{c}-{m:05d}-{t}", type=t, channel=ch, ts=T0 + m * MIN, customer_id=c,
                           outcome=o, attributes=dict(attributes or {})) for c, m, t, ch, o in rows]
    graph_journeys.write_events(records)


@pytest.fixture
def journeys_in_graph(g) -> None:  # type: ignore[no-untyped-def]
    write_journeys(JOURNEYS)
