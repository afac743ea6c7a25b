"""The journey gateway (graph.journeys) writes and reads the same on every backend, through GRAPH_URL."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

import graph
from apps.customers import identity
from graph import journeys
from graph.schema import EventRecord, WriteReport

T0 = 1_700_000_000_000
MINUTE = 60_000
PHONE = ("phone", "+61400000001")

FIRST_BATCH = [
    EventRecord(event_id="e1", type="login", channel="web", ts=T0, customer_id="c1", identifiers=(PHONE,),
                attributes={"page": "/home"}),
    EventRecord(event_id="e2", type="call", channel="voice", ts=T0 + MINUTE, identifiers=(PHONE,),
                intent="home_loan"),
    EventRecord(event_id="e4", type="email", channel="email", ts=T0 + 30_000,
                identifiers=(("email", "bob@example.com"),)),
]
LATER = EventRecord(event_id="e3", type="chat", channel="chat", ts=T0 + 3 * MINUTE, customer_id="c1",
                    outcome="resolved")
LATE = EventRecord(event_id="e5", type="app_open", channel="app", ts=T0 + 2 * MINUTE, customer_id="c1")


@pytest.fixture
def journey_store(backend_url: str, settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Point the gateway (graph.get_g) at an empty store on the backend under test."""
    settings.GRAPH_URL = backend_url
    graph.reset_connection()
    yield backend_url
    graph.reset_connection()


def write_all() -> list[WriteReport]:
    return [journeys.write_events(FIRST_BATCH, identity.resolve), journeys.write_events([LATER]),
            journeys.write_events([LATE])]


def test_writes_resolve_identity_and_splice_late_events(journey_store: str) -> None:
    # when three batches arrive, the last one late
    reports = write_all()
    # then the phone-only call joined c1, the e-mail-only event made a new customer, and the chain is in time order
    assert [(r.loaded, r.duplicates, r.customers, r.customers_created) for r in reports] == [
        (3, 0, ("c1", "email:bob@example.com"), 2), (1, 0, ("c1",), 0), (1, 0, ("c1",), 0)]
    assert journeys.next_chain("c1") == [("e1", "e2", MINUTE), ("e2", "e5", MINUTE), ("e5", "e3", MINUTE)]
    assert journeys.customers_by_identifier(*PHONE) == ["c1"]
    assert journeys.graph_counts() == {"customer": 2, "identifier": 2, "event": 5, "milestone": 0}


def test_rewriting_the_same_events_changes_nothing(journey_store: str) -> None:
    write_all()
    report = journeys.write_events(FIRST_BATCH + [LATER, LATE], identity.resolve)
    assert (report.loaded, report.duplicates) == (0, 5)
    assert journeys.graph_counts() == {"customer": 2, "identifier": 2, "event": 5, "milestone": 0}
    assert len(journeys.next_chain("c1")) == 3


def test_reads(journey_store: str) -> None:
    # given the three batches written
    write_all()
    # when the read functions run
    summary = journeys.customer_summary("c1")
    recent = journeys.recent_events("c1", limit=2)
    page = journeys.customer_events("c1", offset=1, limit=2)
    frame = journeys.events_frame()
    # then they answer identically whichever backend holds the graph
    assert summary is not None
    assert (summary.first_seen, summary.last_seen, summary.event_count) == (T0, T0 + 3 * MINUTE, 4)
    assert summary.events_by_channel == {"app": 1, "chat": 1, "voice": 1, "web": 1}
    assert [(i["kind"], i["value"]) for i in summary.identifiers] == [PHONE]
    assert [(e["event_id"], e["ts"]) for e in recent] == [("e3", T0 + 3 * MINUTE), ("e5", T0 + 2 * MINUTE)]
    assert [e["event_id"] for e in page] == ["e2", "e5"]
    assert journeys.customer_ids() == ["c1", "email:bob@example.com"]
    assert journeys.customer_exists("c1") and not journeys.customer_exists("nobody")
    assert frame[["customer_id", "event_id", "channel", "ts"]].values.tolist() == [
        ["c1", "e1", "web", T0], ["c1", "e2", "voice", T0 + MINUTE], ["c1", "e5", "app", T0 + 2 * MINUTE],
        ["c1", "e3", "chat", T0 + 3 * MINUTE], ["email:bob@example.com", "e4", "email", T0 + 30_000]]
    assert [v if isinstance(v, str) else None for v in frame["intent"]] == [None, "home_loan", None, None, None]
    assert frame["attributes"].tolist()[0] == {"page": "/home"}
    assert str(frame["ts"].dtype) == "int64"


def test_attributes_are_narrowed_by_their_text_in_the_store(journey_store: str) -> None:
    # given two customers with attributes, one a number, one non-ASCII text
    write_all()
    journeys.set_many_customer_attributes({"c1": {"tier": 5, "city": "Zürich"},
                                           "email:bob@example.com": {"tier": "gold", "vip": True}})
    # when the store is asked for the customers whose attributes can hold the values
    def holding(**mentioning: str) -> list[str]:
        return sorted(journeys.customer_attributes(mentioning=mentioning))

    # then every backend keeps the same customers (a superset the caller compares exactly)
    assert holding(tier="5") == ["c1"]
    assert holding(city="Zürich", tier="5") == ["c1"]
    assert holding(vip="True") == ["email:bob@example.com"]
    assert holding(tier="gold") == ["email:bob@example.com"]
    assert holding(tier="6") == [] and holding(city="Zurich") == []
    assert journeys.customer_attributes(["c1"], mentioning={"tier": "5"}) == {"c1": {"tier": 5, "city": "Zürich"}}
