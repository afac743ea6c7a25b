"""KPIs in the engine answer what the in-memory analyzer (`compute_kpi`) answers on the same events,
on DuckDB and on Spark: every kind, days and weeks, channels and segments, look-back before `since`."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apps.events.analytics.kpis import kpi_points
from apps.events.engine import EventFilter
from apps.journeys.analyzers.kpis import DAY_MS, KpiParams, compute_kpi
from tests.events.conftest import ENGINE_KINDS, tied_frame
from tests.journeys.conftest import JOURNEYS, make_frame

EVERYTHING = EventFilter()


def _with_outcomes(frame: pd.DataFrame) -> pd.DataFrame:
    """The synthetic journeys with resolved and abandoned contacts sprinkled in (seeded)."""
    rng = np.random.default_rng(11)
    draw = rng.random(len(frame))
    frame = frame.copy()
    frame["outcome"] = np.where(draw < 0.12, "resolved", np.where(draw > 0.92, "abandoned", None))
    return frame


def _segments(frame: pd.DataFrame) -> dict[str, str]:
    ids = sorted(frame["customer_id"].unique())
    return {c: ("gold" if i % 3 == 0 else "silver") for i, c in enumerate(ids) if i % 5}  # some have none


def _reached(frame: pd.DataFrame) -> dict[str, int]:
    firsts = frame[frame["type"] == "purchase"].drop_duplicates("customer_id")
    return dict(zip(firsts["customer_id"], firsts["ts"].astype(int), strict=True))


def _same(found, expected) -> None:
    assert [(p.period_start, p.dimension, p.dimension_value) for p in found] == [
        (p.period_start, p.dimension, p.dimension_value) for p in expected]
    for a, b in zip(found, expected, strict=True):
        assert (a.value, a.numerator, a.denominator) == pytest.approx((b.value, b.numerator, b.denominator),
                                                                      rel=1e-12, abs=1e-9)


@pytest.fixture(scope="module")
def frame():
    return _with_outcomes(tied_frame(n_events=3_000, n_customers=300, seed=5))


def _questions(frame):
    return [
        ("contacts_per_customer", KpiParams()),
        ("contacts_per_customer", KpiParams(event_types=("call", "chat"))),
        ("repeat_contact", KpiParams(window_days=2)),
        ("abandonment", KpiParams()),
        ("channel_switches", KpiParams(window_days=3)),
        ("time_to_resolution", KpiParams(window_days=3, resolution_types=("purchase",))),
        ("milestone_conversion", KpiParams(reached_ms=_reached(frame))),
    ]


@pytest.mark.parametrize("period", ["day", "week"])
@pytest.mark.parametrize("n", range(7))
def test_every_kpi_equals_the_analyzer(store, frame, period, n):
    kind, params = _questions(frame)[n]
    engine = store(frame)
    segments = _segments(frame)
    since = int(frame["ts"].quantile(0.4)) // DAY_MS * DAY_MS

    found = kpi_points(engine, EVERYTHING, kind=kind, params=params, period=period, segments=segments,
                       since_ms=since)

    expected = compute_kpi(frame, kind=kind, params=params, period=period, segments=segments, since_ms=since)
    assert len(expected) > 20
    _same(found, expected)


def test_hand_built_values(store):
    engine = store(make_frame(JOURNEYS))

    points = kpi_points(engine, EVERYTHING, kind="time_to_resolution", params=KpiParams(window_days=7))

    assert [(p.period_start.isoformat(), p.dimension, p.dimension_value, p.value) for p in points] == [
        ("2026-01-06", "all", "", 25.0), ("2026-01-06", "channel", "chat", 25.0)]


@pytest.mark.parametrize("kind", ENGINE_KINDS)
def test_without_segments_and_on_both_engines(store, frame, kind):
    engine = store(frame, kind)
    for name, params in _questions(frame):
        found = kpi_points(engine, EVERYTHING, kind=name, params=params, period="week")
        _same(found, compute_kpi(frame, kind=name, params=params, period="week"))


def test_unknown_kind_is_named(store, frame):
    with pytest.raises(ValueError, match="unknown KPI kind 'nps'"):
        kpi_points(store(frame), EVERYTHING, kind="nps")
