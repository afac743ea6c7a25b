"""The analytics engine answers exactly what the in-memory analyzers answer on the same events in
(customer, ts, seq) order, on DuckDB and on Spark, reading Parquet files in the store's layout."""
from __future__ import annotations

import pandas as pd
import pytest

from apps.events.analytics import drill as engine_drill
from apps.events.analytics import frames
from apps.events.analytics import journeys as analytics
from apps.events.engine import EventFilter, UnknownValueError, warm_up
from apps.journeys.analyzers import frequency, funnels, paths
from apps.journeys.analyzers.base import filter_frame
from tests.events.conftest import ENGINE_KINDS, tied_frame
from tests.events.store_files import write_identity
from tests.journeys.conftest import JOURNEYS, MIN, T0, make_frame

EVERYTHING = EventFilter()
DAY = 86_400_000
PATH_QUESTIONS = [
    {}, {"start_event": "cart", "steps": 4}, {"end_event": "purchase", "min_count": 3},
    {"start_event": "cart@web", "with_channel": True, "collapse_repeats": True,
     "cleaning_rules": [("^(cart|checkout)", "basket")], "steps": 6},
]
FUNNEL = ["web_visit", "product_view", "cart", "purchase"]


def _with_ties(frame: pd.DataFrame) -> pd.DataFrame:
    """The hand-built set, plus a chat and a call of c1 at minute 60, the time of c1's purchase. They
    arrived chat, call, purchase: event ids would order them purchase, chat, call."""
    extra = make_frame([("c1", 60, "chat", "chat", None), ("c1", 60, "call", "phone", None)])
    extra["event_id"] = ["c1-x1", "c1-x2"]
    tied = pd.concat([frame, extra], ignore_index=True)
    tied["seq"] = range(len(tied))
    tied.loc[tied["event_id"] == "c1-002", "seq"] = len(tied)
    return tied.sort_values(["customer_id", "ts", "seq"], kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("kind", ENGINE_KINDS)
def test_every_analysis_equals_the_analyzers_including_ties_in_time(store, kind):
    given = _with_ties(make_frame(JOURNEYS))
    engine = store(given, kind, files_per_day=1)

    assert analytics.directly_follows(engine, EVERYTHING) == frequency.directly_follows(given)
    assert analytics.top_journeys(engine, EVERYTHING, max_steps=4, limit=3) == frequency.top_journeys(
        given, max_steps=4, limit=3)
    assert analytics.journey_paths(engine, EVERYTHING, end_event="purchase", steps=3) == paths.paths(
        given, end_event="purchase", steps=3)
    assert analytics.funnel(engine, EVERYTHING, events=["web_visit", "call", "purchase"], window_ms=80 * MIN,
                            by_channel=True) == funnels.funnel(given, events=["web_visit", "call", "purchase"],
                                                               window_ms=80 * MIN, by_channel=True)
    assert analytics.variants(engine, EVERYTHING)[("web_visit", "call", "chat", "call", "purchase")] == 1


def test_equal_times_follow_arrival_order(store):
    engine = store(_with_ties(make_frame(JOURNEYS)))

    dfg = analytics.directly_follows(engine, EVERYTHING)

    assert analytics.variants(engine, EventFilter(customer_ids=("c1",))) == {
        ("web_visit", "call", "chat", "call", "purchase"): 1}
    assert (dfg.edges[("chat", "call")], dfg.edges[("call", "purchase")]) == (2, 2)
    assert ("purchase", "chat") not in dfg.edges
    assert frames.events_frame(engine, EventFilter(customer_ids=("c1",)))["event_id"].tolist() == [
        "c1-000", "c1-001", "c1-x1", "c1-x2", "c1-002"]


@pytest.fixture
def tied(store):
    frame = tied_frame(n_events=3_000, n_customers=300, seed=5)
    return frame, store(frame)


@pytest.mark.parametrize("max_steps,with_channel,limit", [(1, False, 20), (3, True, 7), (5, False, 10), (20, False, 5)])
def test_top_journeys_equal_the_analyzer(tied, max_steps, with_channel, limit):
    frame, engine = tied

    assert analytics.top_journeys(engine, EVERYTHING, max_steps=max_steps, with_channel=with_channel,
                                  limit=limit) == frequency.top_journeys(frame, max_steps=max_steps,
                                                                         with_channel=with_channel, limit=limit)


@pytest.mark.parametrize("with_channel", [False, True])
def test_directly_follows_equals_the_analyzer(tied, with_channel):
    frame, engine = tied

    assert analytics.directly_follows(engine, EVERYTHING, with_channel=with_channel) == \
        frequency.directly_follows(frame, with_channel=with_channel)


@pytest.mark.parametrize("question", PATH_QUESTIONS)
def test_paths_equal_the_analyzer(tied, question):
    frame, engine = tied

    assert analytics.journey_paths(engine, EVERYTHING, **question) == paths.paths(frame, **question)


@pytest.mark.parametrize("window_ms,by_channel", [(None, False), (7 * DAY, True), (DAY, True)])
def test_funnels_equal_the_analyzer(tied, window_ms, by_channel):
    frame, engine = tied

    result = analytics.funnel(engine, EVERYTHING, events=FUNNEL, window_ms=window_ms, by_channel=by_channel)

    assert result == funnels.funnel(frame, events=FUNNEL, window_ms=window_ms, by_channel=by_channel)
    assert result.steps[1].customers > 0


@pytest.mark.parametrize("step,dropped,channel",
                         [(1, False, None), (2, True, None), (3, False, "web"), (4, True, None)])
def test_funnel_drill_down_equals_the_analyzer(tied, step, dropped, channel):
    frame, engine = tied
    question = {"events": FUNNEL, "step": step, "window_ms": 7 * DAY, "dropped": dropped, "channel": channel}

    customers = engine_drill.every_id(engine, engine_drill.funnel_customers(engine, EVERYTHING, **question))

    assert customers == funnels.funnel_customers(frame, **question)
    assert customers


def test_filters_equal_cutting_the_frame(tied):
    frame, engine = tied
    since, until = int(frame["ts"].quantile(0.3)), int(frame["ts"].quantile(0.8))
    customers = tuple(sorted(frame["customer_id"].unique()[::3]))
    flt = EventFilter(since_ms=since, until_ms=until, channels=("web", "app"), customer_ids=customers)
    cut = filter_frame(frame, since_ms=since, until_ms=until, channels=["web", "app"], customer_ids=customers)

    assert analytics.directly_follows(engine, flt) == frequency.directly_follows(cut)
    assert analytics.top_journeys(engine, flt, max_steps=3) == frequency.top_journeys(cut, max_steps=3)
    assert frames.events_frame(engine, flt)["event_id"].tolist() == cut["event_id"].tolist()


def test_events_frame_is_the_canonical_frame_in_journey_order(tied):
    frame, engine = tied

    read = frames.events_frame(engine)

    pd.testing.assert_frame_equal(read[["customer_id", "event_id", "type", "channel", "ts", "seq"]],
                                  frame[["customer_id", "event_id", "type", "channel", "ts", "seq"]],
                                  check_dtype=False)
    assert read["attributes"].tolist()[:2] == [{}, {}]
    assert read["intent"].tolist()[:1] == [None]


def test_sequences_and_signatures_feed_the_similarity_index(store):
    engine = store(make_frame(JOURNEYS))

    journeys = frames.sequences(engine)
    signatures = frames.signatures(engine)

    assert journeys["c6"] == ("call", "call", "chat")
    assert signatures.loc["c6", "size"] == 3
    assert signatures.loc["c6", "total"] == 3 * T0 + (0 + 60 + 1500) * MIN


def test_merged_customers_are_one_journey(store, tmp_path):
    engine = store(make_frame(JOURNEYS))
    write_identity(tmp_path / "store", {"c5": "c2", "c2": "c2"})

    result = analytics.top_journeys(engine, EVERYTHING, max_steps=4)

    assert result.total_customers == 5
    assert ("web_visit", "call", "purchase", "web_visit") in [j.steps for j in result.journeys]


def test_unknown_event_type_or_channel_is_named(store):
    engine = store(make_frame(JOURNEYS))

    with pytest.raises(UnknownValueError, match=r"unknown event type\(s\) 'purchse'; known: call, chat, purchase"):
        analytics.check_labels(engine, ["purchase", "purchse"])
    with pytest.raises(UnknownValueError, match=r"unknown event channel\(s\) 'fax'"):
        analytics.check_labels(engine, ["call@fax"], with_channel=True)
    analytics.check_labels(engine, ["call@phone", None], with_channel=True)


def test_results_are_reused_until_a_file_changes(store, tmp_path):
    engine = store(make_frame(JOURNEYS))
    calls = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert engine.cached("q", compute) == 1
    assert engine.cached("q", compute) == 1
    store(make_frame([("c9", 5, "call", "phone", None)]))  # a new file lands in the store

    assert engine.cached("q", compute) == 2
    assert analytics.total_customers(engine, EVERYTHING) == 7


def test_bad_arguments_fail_like_the_analyzers(store):
    engine = store(make_frame(JOURNEYS))

    with pytest.raises(ValueError, match="max_steps must be between 1 and 20, got 21"):
        analytics.top_journeys(engine, EVERYTHING, max_steps=21)
    with pytest.raises(ValueError, match="give start_event or end_event, not both"):
        analytics.journey_paths(engine, EVERYTHING, start_event="call", end_event="chat")
    with pytest.raises(ValueError, match="step must be between 1 and 2, got 3"):
        engine_drill.funnel_customers(engine, EVERYTHING, events=["call", "chat"], step=3)


def test_journey_table_is_built_once_per_store_content_and_reopened_by_a_new_process(store, settings, tmp_path):
    given = _with_ties(make_frame(JOURNEYS))
    engine = store(given)
    settings.EVENTS_STORE_URL = engine.store_url

    warm_up(background=False)  # what a web process does at start

    built = sorted((tmp_path / "spill").glob("journeys-*.duckdb"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    restarted = type(engine)(store_url=engine.store_url, kind="duckdb")  # a new process: opens, does not build
    assert analytics.directly_follows(restarted, EVERYTHING) == frequency.directly_follows(given)
    assert built[0].stat().st_mtime_ns == stamp

    more = make_frame([("c9", 5, "call", "phone", None)])
    store(more)  # a file is replaced: the next question builds for the new content and drops the old file
    now = frames.events_frame(restarted, EVERYTHING)  # read from the Parquet files, not the journey table
    assert "c9" in set(now["customer_id"])
    assert analytics.directly_follows(restarted, EVERYTHING) == frequency.directly_follows(now)
    rebuilt = sorted((tmp_path / "spill").glob("journeys-*.duckdb"))
    assert len(rebuilt) == 1 and rebuilt != built


def test_a_journey_table_without_traces_still_counts_variants(store, tmp_path):
    """A store too large for the traces step (its ordered aggregate cannot spill) keeps the journey
    table without traces: variants then sort journeys in their own query, with the same answer."""
    import duckdb

    given = _with_ties(make_frame(JOURNEYS))
    engine = store(given)
    expected = analytics.variants(engine, EVERYTHING)
    built = next((tmp_path / "spill").glob("journeys-*.duckdb"))
    engine.backend.con.execute("DETACH journeyhub_journeys_1")
    with duckdb.connect(str(built)) as con:
        con.execute("DROP TABLE traces")

    reopened = type(engine)(store_url=engine.store_url, kind="duckdb")

    assert reopened.trace_table() is None and reopened.journey_table() is not None
    assert analytics.variants(reopened, EVERYTHING) == expected


def test_traces_built_in_customer_buckets_count_the_same_variants(store, settings, monkeypatch, caplog):
    """A store larger than one bucket of the traces step (TRACE_BUCKET_EVENTS) builds its traces a
    bucket of customers at a time, so the ordered aggregate never holds the whole store; the variants
    are those of the journeys sorted per query."""
    from apps.events import engine as engine_module

    frame = tied_frame(n_events=3_000, n_customers=300, seed=5)
    engine = store(frame)
    monkeypatch.setattr(engine_module, "TRACE_BUCKET_EVENTS", 700)  # 3,000 events: 5 buckets
    caplog.set_level("INFO", logger="apps.events.engine")

    counted = analytics.variants(engine, EVERYTHING)

    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("traces: bucket")] == [
        f"traces: bucket {b} of 5" for b in range(1, 6)]
    assert engine.execute(engine.trace_table().count()) == 300
    settings.ANALYTICS_JOURNEY_TABLE = False
    sorted_per_query = analytics.variants(type(engine)(store_url=engine.store_url, kind="duckdb"), EVERYTHING)
    assert counted == sorted_per_query
    assert sum(counted.values()) == 300


def test_variants_of_more_types_than_one_trace_digit_holds_and_of_any_type_name(store):
    """Past 64 event types a trace spells each type in two digits; names with separators, spaces or
    non-ASCII letters are only codes in a trace, so they come back as they were."""
    odd = ["a\x1fb", "x y", "café", "ü@web", ""]
    types = [f"t{n:02d}" for n in range(70)] + odd
    rows = [(f"c{n % 9}", n, types[(n * 7) % len(types)], "web", None) for n in range(300)]
    rows += [("odd", 1000 + n, name, "web", None) for n, name in enumerate(odd)]
    given = make_frame(rows)
    engine = store(given)

    counted = analytics.variants(engine, EVERYTHING)

    assert len(engine.trace_types()) == 75
    expected: dict[tuple[str, ...], int] = {}
    for _, journey in given.groupby("customer_id"):
        key = tuple(journey["type"])
        expected[key] = expected.get(key, 0) + 1
    assert counted == expected
    assert counted[tuple(odd)] == 1
    assert analytics.variants(engine, EventFilter(customer_ids=("odd",))) == {tuple(odd): 1}


def test_a_journey_file_of_another_layout_is_rebuilt_not_read(store, monkeypatch, tmp_path):
    """Traces of an older layout (type names joined by a separator) would decode as codes into
    wrong variants: the layout version is part of the file's name, so such a file is never opened."""
    from apps.events import engine as engine_module

    given = _with_ties(make_frame(JOURNEYS))
    engine = store(given)
    monkeypatch.setattr(engine_module, "JOURNEY_LAYOUT", "2")
    engine.journey_table()
    older = sorted((tmp_path / "spill").glob("journeys-*.duckdb"))
    monkeypatch.undo()

    current = type(engine)(store_url=engine.store_url, kind="duckdb")
    counted = analytics.variants(current, EVERYTHING)

    now = sorted((tmp_path / "spill").glob("journeys-*.duckdb"))
    assert len(older) == len(now) == 1 and older != now
    assert counted[("web_visit", "call", "chat", "call", "purchase")] == 1
    assert sum(counted.values()) == given["customer_id"].nunique()


def test_a_traces_step_that_runs_out_of_memory_midway_leaves_no_partial_traces(store, monkeypatch, tmp_path):
    """Buckets already written when a later one runs out of memory are dropped with the rest: a
    table of some customers' traces would count some variants and miss others."""
    import duckdb

    from apps.events import engine as engine_module

    given = tied_frame(n_events=3_000, n_customers=300, seed=5)
    engine = store(given)
    build = engine_module._build_traces

    def out_of_memory_after_building(con, db, base_types=None):  # type: ignore[no-untyped-def]
        build(con, db, base_types)  # every bucket written, then the failure
        raise duckdb.OutOfMemoryException("Out of Memory Error: failed to pin block")

    monkeypatch.setattr(engine_module, "_build_traces", out_of_memory_after_building)

    counted = analytics.variants(engine, EVERYTHING)

    assert engine.trace_table() is None and engine.journey_table() is not None
    expected: dict[tuple[str, ...], int] = {}
    for _, journey in given.groupby("customer_id"):  # sorted by (customer, ts, seq)
        expected[tuple(journey["type"])] = expected.get(tuple(journey["type"]), 0) + 1
    assert counted == expected
    assert sum(counted.values()) == 300
