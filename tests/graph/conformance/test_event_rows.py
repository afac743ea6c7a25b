"""The reads the event store's check and rebuild use (graph.event_rows), and the timeline's order
for equal times, the same on every backend."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from gremlin_python.process.graph_traversal import __

import graph
from graph import event_rows, journeys
from graph import schema as s
from graph.schema import EventRecord

T0 = 1_700_000_000_000


@pytest.fixture
def journey_store(backend_url: str, settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings.GRAPH_URL = backend_url
    graph.reset_connection()
    yield backend_url
    graph.reset_connection()


def records() -> list[EventRecord]:
    """c1 has three events at the same time (arrival order z, b, y), c2 one, c3 one with attributes."""
    tied = [EventRecord(event_id=e, type="login", channel="web", ts=T0, customer_id="c1", seq=n)
            for n, e in enumerate(["z", "b", "y"], start=1)]
    return tied + [EventRecord(event_id="m", type="call", channel="voice", ts=T0 + 5, customer_id="c2", seq=4,
                               intent="loan", source="crm"),
                   EventRecord(event_id="n", type="chat", channel="chat", ts=T0 + 9, customer_id="c3", seq=5,
                               outcome="ok", attributes={"page": "/x"})]


def test_customer_pages_and_their_events_stream_every_accepted_event(journey_store: str) -> None:
    journeys.write_events(records())
    # an event vertex without its performed edge (a remote batch cut short) is not accepted
    graph.get_g().add_v(s.EVENT).property("type", "orphan").iterate()

    pages = list(event_rows.customer_id_pages(2))
    rows = sorted((r for page in pages for r in event_rows.events_of_customers(page)), key=lambda r: r["seq"])

    assert pages == [["c1", "c2"], ["c3"]]
    assert [r["event_id"] for r in rows] == ["z", "b", "y", "m", "n"]
    assert rows[3] == {"event_id": "m", "customer_id": "c2", "type": "call", "channel": "voice", "ts": T0 + 5,
                       "seq": 4, "intent": "loan", "outcome": None, "source": "crm", "attributes": "{}"}
    assert rows[4]["attributes"] == '{"page": "/x"}' and rows[4]["outcome"] == "ok"


def test_events_by_ids_returns_only_accepted_events(journey_store: str) -> None:
    journeys.write_events(records())

    rows = event_rows.events_by_ids(["y", "n", "missing"])

    assert sorted((r["event_id"], r["seq"]) for r in rows) == [("n", 5), ("y", 3)]


def test_merges_are_read_with_when_and_why(journey_store: str) -> None:
    journeys.write_events(records())
    (graph.get_g().V(s.customer_vid("c1")).add_e(s.MERGED_INTO).to(__.V(s.customer_vid("c2")))
     .property("rule", "same_phone").property("ts", 77).iterate())

    assert event_rows.customer_merges() == [{"customer_id": "c1", "into": "c2", "ts": 77, "rule": "same_phone"}]


def test_the_timeline_keeps_arrival_order_for_equal_times_both_ways(journey_store: str) -> None:
    journeys.write_events(records())

    oldest = [e["event_id"] for o in (0, 2) for e in journeys.customer_events("c1", offset=o, limit=2)]
    newest = [e["event_id"] for o in (0, 2) for e in journeys.customer_events("c1", offset=o, limit=2,
                                                                              newest_first=True)]

    assert (oldest, newest) == (["z", "b", "y"], ["y", "b", "z"])


def test_next_edges_follow_arrival_order_between_equal_times_across_batches(journey_store: str) -> None:
    # given three events at the same time, then a later batch with a fourth at that time and one after
    journeys.write_events(records()[:3])
    journeys.write_events([EventRecord(event_id="a", type="login", channel="web", ts=T0, customer_id="c1", seq=9)])
    journeys.write_events([EventRecord(event_id="w", type="call", channel="voice", ts=T0 + 1, customer_id="c1",
                                       seq=10)])

    # then the chain runs in arrival order, and the event after them follows the last to arrive
    assert journeys.next_chain("c1") == [("z", "b", 0), ("b", "y", 0), ("y", "a", 0), ("a", "w", 1)]
