"""KPI values on the hand-built set (T0 is Monday 2026-01-05)."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.journeys.analyzers.kpis import KpiParams, KpiPoint, compute_kpi
from tests.journeys.conftest import MIN, T0, make_frame

JAN5, JAN6, JAN7 = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)


def overall(points):
    return {p.period_start: (p.value, p.numerator, p.denominator) for p in points if p.dimension == "all"}


def test_contacts_per_customer_per_day_and_channel(journeys):
    points = compute_kpi(journeys, kind="contacts_per_customer")

    assert overall(points) == {JAN5: (2.4, 12, 5), JAN6: (1.5, 3, 2), JAN7: (1.0, 1, 1)}
    day_one_channels = {p.dimension_value: p.value for p in points if p.dimension == "channel"
                        and p.period_start == JAN5}
    assert day_one_channels == {"app": 1.0, "chat": 1.0, "phone": 1.2, "web": 2.0}


def test_contacts_per_customer_per_week_and_segment(journeys):
    segments = {"c1": "gold", "c2": "gold", "c3": "silver"}

    points = compute_kpi(journeys, kind="contacts_per_customer", period="week", segments=segments)

    assert overall(points) == {JAN5: (2.666667, 16, 6)}
    assert {p.dimension_value: p.value for p in points if p.dimension == "segment"} == {
        "": 2.333333, "gold": 3.0, "silver": 3.0}


def test_repeat_contact_within_seven_days(journeys):
    points = compute_kpi(journeys, kind="repeat_contact", params=KpiParams(window_days=7))

    assert overall(points) == {JAN5: (0.583333, 7, 12), JAN6: (1.0, 3, 3), JAN7: (0.0, 0, 1)}


def test_abandonment(journeys):
    points = compute_kpi(journeys, kind="abandonment")

    assert overall(points)[JAN5] == (0.083333, 1, 12)


def test_channel_switches_and_time_to_resolution(journeys):
    switches = compute_kpi(journeys, kind="channel_switches")
    hours = compute_kpi(journeys, kind="time_to_resolution")

    assert switches == (KpiPoint(JAN6, "all", "", 1.0, 1, 1), KpiPoint(JAN6, "channel", "chat", 1.0, 1, 1))
    assert overall(hours) == {JAN6: (25.0, 25.0, 1)}


def test_milestone_conversion_counts_customers_reaching_in_the_period(journeys):
    params = KpiParams(reached_ms={"c1": T0 + 60 * MIN, "c4": T0 + 1500 * MIN})

    points = compute_kpi(journeys, kind="milestone_conversion", params=params)

    assert overall(points) == {JAN5: (0.2, 1, 5), JAN6: (0.5, 1, 2), JAN7: (0.0, 0, 1)}


def test_since_reports_only_later_periods_but_looks_back(journeys):
    points = compute_kpi(journeys, kind="repeat_contact", since_ms=T0 + 1440 * MIN)

    assert overall(points) == {JAN6: (1.0, 3, 3), JAN7: (0.0, 0, 1)}


def test_unknown_kind_and_parameters_are_named(journeys):
    with pytest.raises(ValueError, match="unknown KPI kind 'nps'"):
        compute_kpi(journeys, kind="nps")
    with pytest.raises(ValueError, match="unknown KPI parameter\\(s\\) windw"):
        KpiParams.from_json({"windw": 3})


def _episodes_by_hand(rows, window_days):
    """Reference: walk each customer's contacts; an episode ends at a resolution."""
    out = []
    for customer in sorted({r[0] for r in rows}):
        mine = [r for r in rows if r[0] == customer]
        start = 0
        for i, (_, minute, _, _channel, outcome) in enumerate(mine):
            if outcome != "resolved":
                continue
            first = start
            while minute - mine[first][1] > window_days * 1440:
                first += 1
            switches = sum(1 for j in range(first + 1, i + 1) if mine[j][3] != mine[j - 1][3])
            out.append((switches, (minute - mine[first][1]) / 60))
            start = i + 1
    return out


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["k1", "k2", "k3"]), st.integers(0, 6000),
                          st.sampled_from(["phone", "chat", "web"]), st.booleans()), min_size=1, max_size=25),
       st.sampled_from([1, 2, 30]))
def test_resolution_episodes_match_a_walk_by_hand(events, window_days):
    rows = sorted({(c, m, "contact", ch, "resolved" if res else None) for c, m, ch, res in events},
                  key=lambda r: (r[0], r[1]))
    rows = [r for i, r in enumerate(rows) if i == 0 or rows[i - 1][:2] != r[:2]]  # one event per minute
    frame = make_frame(rows)
    params = KpiParams(window_days=window_days)

    switches = compute_kpi(frame, kind="channel_switches", params=params, period="week")
    hours = compute_kpi(frame, kind="time_to_resolution", params=params, period="week")

    expected = _episodes_by_hand(rows, window_days)
    assert sum(p.numerator for p in switches if p.dimension == "all") == sum(s for s, _ in expected)
    assert sum(p.denominator for p in switches if p.dimension == "all") == len(expected)
    assert round(sum(p.numerator for p in hours if p.dimension == "all"), 6) == round(sum(h for _, h in expected), 6)
