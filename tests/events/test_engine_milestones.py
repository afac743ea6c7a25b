"""Milestone triggers in the engine reach the customers the in-memory analyzer (`first_reaches`) does, at
the same events, on DuckDB and on Spark: event types, sequences with and without windows (equal times
in arrival order), attribute conditions on columns and on JSON attributes."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apps.events.analytics.milestones import first_reaches
from apps.events.engine import EventFilter
from apps.journeys.analyzers import milestones
from apps.journeys.analyzers.milestones import Reach, Trigger
from tests.events.conftest import ENGINE_KINDS, tied_frame
from tests.journeys.conftest import MIN, T0, make_frame

EVERYTHING = EventFilter()
HOUR = 60 * MIN
TRIGGERS = [
    Trigger(kind="event_type", event_type="purchase"),
    Trigger(kind="sequence", sequence=("web_visit", "cart")),
    Trigger(kind="sequence", sequence=("product_view", "cart", "purchase"), window_ms=7 * 24 * HOUR),
    Trigger(kind="sequence", sequence=("call", "call"), window_ms=24 * HOUR),
    Trigger(kind="sequence", sequence=("purchase",)),
    Trigger(kind="attribute", attribute="outcome", op="eq", value="resolved"),
    Trigger(kind="attribute", attribute="channel", op="ne", value="web"),
    Trigger(kind="attribute", attribute="basket", op="gte", value="100"),
    Trigger(kind="attribute", attribute="größe", op="exists"),
    Trigger(kind="attribute", attribute="basket", op="contains", value="9"),
]


def _with_attributes(frame: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = frame.copy()
    draw = rng.random(len(frame))
    frame["outcome"] = np.where(draw < 0.1, "resolved", None)
    frame["attributes"] = [{"basket": int(v * 1000)} if v > 0.8 else ({"größe": "L"} if v < 0.03 else {})
                           for v in rng.random(len(frame))]
    return frame


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _with_attributes(tied_frame(n_events=3_000, n_customers=300, seed=5))


@pytest.mark.parametrize("trigger", TRIGGERS, ids=lambda t: f"{t.kind}-{t.event_type or t.sequence or t.attribute}")
def test_every_trigger_equals_the_analyzer(store, frame, trigger):
    engine = store(frame)

    found = first_reaches(engine, EVERYTHING, trigger)

    expected = milestones.first_reaches(frame, trigger)
    assert len(expected) >= 5
    assert found == expected


def test_a_sequence_window_counts_from_the_latest_start(store):
    engine = store(make_frame([("k", 0, "a", "web", None), ("k", 100, "a", "web", None),
                               ("k", 130, "b", "web", None)]))

    reaches = first_reaches(engine, EVERYTHING, Trigger(kind="sequence", sequence=("a", "b"), window_ms=30 * MIN))

    assert reaches == {"k": Reach("k", T0 + 130 * MIN, "k-002")}


@pytest.mark.parametrize("kind", ENGINE_KINDS)
def test_backfill_triggers_on_both_engines(store, frame, kind):
    engine = store(frame, kind)
    for trigger in (TRIGGERS[0], TRIGGERS[2], TRIGGERS[7]):
        assert first_reaches(engine, EVERYTHING, trigger) == milestones.first_reaches(frame, trigger)


def test_unknown_trigger_kind_is_named(store, frame):
    with pytest.raises(ValueError, match="unknown trigger kind 'weather'"):
        first_reaches(store(frame), EVERYTHING, Trigger(kind="weather"))
