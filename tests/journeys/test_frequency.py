"""Top journeys and directly-follows counts on the hand-built set."""
from __future__ import annotations

import pm4py
import pytest

from apps.journeys.analyzers.base import filter_frame
from apps.journeys.analyzers.frequency import JourneyCount, directly_follows, top_journeys
from tests.journeys.conftest import MIN, T0


def test_top_journeys_of_three_steps_count_each_customer_once(journeys):
    result = top_journeys(journeys, max_steps=3)

    assert result.total_customers == 6
    assert result.journeys == (
        JourneyCount(("web_visit", "call", "purchase"), 2, 0.333333, 75 * MIN),
        JourneyCount(("call", "call", "chat"), 1, 0.166667, 1500 * MIN),
        JourneyCount(("call", "web_visit", "purchase"), 1, 0.166667, 1500 * MIN),
        JourneyCount(("web_visit",), 1, 0.166667, 0.0),
        JourneyCount(("web_visit", "chat", "call"), 1, 0.166667, 20 * MIN),
    )


def test_top_journeys_of_one_step_with_channel_and_limit(journeys):
    result = top_journeys(journeys, max_steps=1, with_channel=True, limit=2)

    assert [(j.steps, j.customers) for j in result.journeys] == [
        (("web_visit@web",), 3), (("call@phone",), 2)]


def test_top_journeys_after_filters_on_channel_and_date(journeys):
    phone_day_one = filter_frame(journeys, channels=["phone"], since_ms=T0, until_ms=T0 + 1440 * MIN)

    result = top_journeys(phone_day_one, max_steps=2)

    assert [(j.steps, j.customers) for j in result.journeys] == [(("call",), 4), (("call", "call"), 1)]


def test_top_journeys_rejects_too_many_steps(journeys):
    with pytest.raises(ValueError, match="max_steps must be between 1 and 20, got 21"):
        top_journeys(journeys, max_steps=21)


def test_directly_follows_counts_are_known(journeys):
    dfg = directly_follows(journeys)

    assert dfg.edges == {
        ("web_visit", "call"): 2, ("call", "purchase"): 2, ("web_visit", "chat"): 1, ("chat", "call"): 1,
        ("call", "web_visit"): 1, ("web_visit", "purchase"): 1, ("call", "call"): 1, ("call", "chat"): 1}
    assert dfg.start == {"web_visit": 4, "call": 2}
    assert dfg.end == {"purchase": 3, "call": 1, "web_visit": 1, "chat": 1}


def _pm4py_log(frame):
    log = frame.rename(columns={"customer_id": "case:concept:name", "type": "concept:name"}).copy()
    log["time:timestamp"] = log["ts"].astype("datetime64[ms]").dt.tz_localize("UTC")
    return log[["case:concept:name", "concept:name", "time:timestamp", "event_id"]]


def test_directly_follows_equals_pm4py_dfg(journeys):
    dfg, start, end = pm4py.discover_dfg(_pm4py_log(journeys))

    ours = directly_follows(journeys)

    assert ours.edges == dict(dfg)
    assert ours.start == dict(start)
    assert ours.end == dict(end)


def test_directly_follows_equals_pm4py_on_a_larger_random_log():
    from apps.journeys.synthetic import synthetic_frame

    frame = synthetic_frame(n_events=20_000, n_customers=2_000, seed=7)
    dfg, start, end = pm4py.discover_dfg(_pm4py_log(frame))

    ours = directly_follows(frame)

    assert ours.edges == dict(dfg)
    assert (ours.start, ours.end) == (dict(start), dict(end))
