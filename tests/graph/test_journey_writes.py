"""Next-chains stay exact whether batches append in time order, arrive late, or repeat."""
from __future__ import annotations

from graph import journeys
from graph.schema import EventRecord


def event(event_id: str, ts: int, customer: str = "c1") -> EventRecord:
    return EventRecord(event_id=event_id, type="t", channel="web", ts=ts, customer_id=customer)


def test_appended_late_and_tied_events_keep_the_chain_in_time_then_id_order() -> None:
    journeys.write_events([event("a", 1000), event("b", 2000)])
    journeys.write_events([event("c", 3000)])             # appends after the last known event
    journeys.write_events([event("x", 1500)])             # late: spliced between a and b
    journeys.write_events([event("d", 3000), event("0", 500)])  # a tie with c, and a new first event

    assert journeys.next_chain("c1") == [("0", "a", 500), ("a", "x", 500), ("x", "b", 500), ("b", "c", 1000),
                                         ("c", "d", 0)]
    summary = journeys.customer_summary("c1")
    assert summary is not None
    assert (summary.first_seen, summary.last_seen, summary.event_count) == (500, 3000, 6)


def test_customers_in_one_batch_get_separate_chains_and_a_repeat_changes_nothing() -> None:
    batch = [event("p", 10, "c1"), event("q", 20, "c2"), event("r", 30, "c1"), event("s", 5, "c2")]
    first = journeys.write_events(batch)
    again = journeys.write_events(batch)

    assert (first.loaded, first.customers_created, again.loaded, again.duplicates) == (4, 2, 0, 4)
    assert journeys.next_chain("c1") == [("p", "r", 20)]
    assert journeys.next_chain("c2") == [("s", "q", 15)]
    assert journeys.graph_counts()["event"] == 4


def test_rebuild_repairs_a_chain_from_the_events() -> None:
    journeys.write_events([event("a", 1), event("b", 2), event("c", 3)])
    journeys.rebuild_next_chains(["c1"])
    assert journeys.next_chain("c1") == [("a", "b", 1), ("b", "c", 1)]


def test_a_read_by_type_returns_who_what_and_when_of_those_types_only() -> None:
    journeys.write_events([event("a", 1), EventRecord(event_id="b", type="u", channel="app", ts=2, customer_id="c1"),
                           event("c", 3), event("d", 4, "c2")])

    frame = journeys.events_frame(customer_ids=["c1"], since_ms=2, types=["t"])

    assert frame[["customer_id", "event_id", "type", "ts"]].values.tolist() == [["c1", "c", "t", 3]]
    assert frame["channel"].tolist() == [""]
