"""Drill-down in the engine: the customers behind a path box or band and a funnel step are those the
in-memory analyzers list, counted in the engine and handed out a page at a time, on DuckDB and Spark."""
from __future__ import annotations

import pytest

from apps.events.analytics import drill as engine_drill
from apps.events.engine import EventFilter
from apps.journeys.analyzers import drill, funnels, paths
from tests.events.conftest import ENGINE_KINDS, tied_frame

EVERYTHING = EventFilter()
DAY = 86_400_000
FUNNEL = ["web_visit", "product_view", "cart", "purchase"]


@pytest.fixture
def tied(store):
    frame = tied_frame(n_events=3_000, n_customers=300, seed=5)
    return frame, store(frame)


def _busy_nodes(frame, question):
    """The fullest box at step 2 and the fullest band out of step 2, as the path analysis shows them."""
    anchor = question.get("anchor")
    result = paths.paths(frame, start_event=None if question.get("backward") else anchor,
                         end_event=anchor if question.get("backward") else None, steps=question.get("steps", 5),
                         min_count=question.get("min_count", 1), with_channel=question.get("with_channel", False),
                         collapse_repeats=question.get("collapse_repeats", False))
    box = max((n for n in result.nodes if n.step == 2), key=lambda n: (n.customers, n.id))
    band = max((li for li in result.links if li.source.startswith("2:")), key=lambda li: (li.customers, li.target))
    return [box.id], [band.source, band.target]


QUESTIONS = [{}, {"anchor": "cart", "steps": 4}, {"anchor": "purchase", "backward": True, "min_count": 25},
             {"anchor": "cart@web", "with_channel": True, "collapse_repeats": True, "steps": 6, "min_count": 3}]


@pytest.mark.parametrize("question", QUESTIONS)
def test_path_drill_down_equals_the_analyzer_page_by_page(tied, question):
    frame, engine = tied
    for nodes in _busy_nodes(frame, question):
        refs = [drill.NodeRef.parse(n) for n in nodes]
        expected = drill.customers_at(frame, nodes=refs, **question)
        found = engine_drill.path_customers(engine, EVERYTHING, nodes=refs, **question)

        first = engine_drill.page(engine, found, offset=0, limit=7)
        second = engine_drill.page(engine, found, offset=7, limit=7)

        assert len(expected) > 7
        assert (first.count, first.ids, second.ids) == (len(expected), tuple(expected[:7]), tuple(expected[7:14]))
        assert engine_drill.every_id(engine, found) == expected


def test_other_is_a_box_too(tied):
    frame, engine = tied
    question = {"anchor": "cart", "steps": 4, "min_count": 40}
    refs = [drill.NodeRef(2, "other")]

    expected = drill.customers_at(frame, nodes=refs, **question)

    assert expected
    assert engine_drill.every_id(engine, engine_drill.path_customers(engine, EVERYTHING, nodes=refs,
                                                                     **question)) == expected


@pytest.mark.parametrize("kind", ENGINE_KINDS)
@pytest.mark.parametrize("step,dropped,channel", [(2, True, None), (3, False, "web")])
def test_funnel_drill_down_pages_equal_the_analyzer(store, kind, step, dropped, channel):
    frame = tied_frame(n_events=3_000, n_customers=300, seed=5)
    engine = store(frame, kind)
    question = {"events": FUNNEL, "step": step, "window_ms": 7 * DAY, "dropped": dropped, "channel": channel}
    expected = funnels.funnel_customers(frame, **question)

    found = engine_drill.page(engine, engine_drill.funnel_customers(engine, EVERYTHING, **question),
                              offset=3, limit=5)

    assert (found.count, found.ids) == (len(expected), tuple(expected[3:8]))


@pytest.mark.spark
def test_path_drill_down_on_spark_equals_the_analyzer(store):
    frame = tied_frame(n_events=3_000, n_customers=300, seed=5)
    engine = store(frame, "spark")
    question = QUESTIONS[3]
    _, band = _busy_nodes(frame, question)
    refs = [drill.NodeRef.parse(n) for n in band]

    found = engine_drill.page(engine, engine_drill.path_customers(engine, EVERYTHING, nodes=refs, **question),
                              offset=2, limit=4)

    expected = drill.customers_at(frame, nodes=refs, **question)
    assert (found.count, found.ids) == (len(expected), tuple(expected[2:6]))


def test_a_page_past_the_end_is_empty_and_bad_bounds_are_named(tied):
    _, engine = tied
    found = engine_drill.path_customers(engine, EVERYTHING, nodes=[drill.NodeRef(1, "web_visit")])
    count = engine_drill.page(engine, found, limit=1).count

    assert engine_drill.page(engine, found, offset=count, limit=5).ids == ()
    with pytest.raises(ValueError, match="offset must be at least 0"):
        engine_drill.page(engine, found, offset=-1)
