"""The identity rules (apps.customers.identity): which customer an event belongs to. Pure over the
events and the links their identifiers already have; the write path calls them once per batch."""
from __future__ import annotations

import pytest

from apps.customers import identity
from graph import journeys
from graph import schema as s
from graph.schema import EventRecord

PHONE = ("phone", "+61412345678")
EMAIL = ("email", "ann@example.com")
ACCOUNT = ("account", "ACC-1")
COOKIE = ("cookie", "ck-9")


def event(event_id: str, customer: str = "", *identifiers: tuple[str, str]) -> EventRecord:
    return EventRecord(event_id=event_id, type="t", channel="web", ts=1, customer_id=customer,
                       identifiers=tuple(identifiers))


def link(identifier: tuple[str, str], customer: str, first_seen: int) -> journeys.IdentifierLink:
    return (s.identifier_vid(*identifier), customer, first_seen)


def test_a_named_customer_wins_over_every_identifier() -> None:
    links = [link(ACCOUNT, "c9", 1)]
    assert identity.resolve([event("a", "c1", ACCOUNT), event("b", "c2")], links) == ["c1", "c2"]


def test_the_strongest_linked_identifier_decides_whatever_the_order_it_came_in() -> None:
    """account before phone before e-mail before Connect profile, device and cookie."""
    links = [link(EMAIL, "by-email", 1), link(PHONE, "by-phone", 1), link(COOKIE, "by-cookie", 1)]

    assert identity.resolve([event("a", "", COOKIE, EMAIL, PHONE), event("b", "", COOKIE, EMAIL),
                             event("c", "", COOKIE)], links) == ["by-phone", "by-email", "by-cookie"]


def test_an_unlinked_strongest_identifier_gives_way_to_a_weaker_linked_one() -> None:
    assert identity.resolve([event("a", "", ACCOUNT, EMAIL)], [link(EMAIL, "c5", 3)]) == ["c5"]


def test_a_shared_identifier_belongs_to_the_customer_it_was_first_linked_to() -> None:
    """Earliest first_seen wins; on a tie the smaller customer id."""
    late_and_early = [link(PHONE, "c2", 50), link(PHONE, "c3", 10)]
    tie = [link(PHONE, "c8", 10), link(PHONE, "c7", 10)]

    assert identity.resolve([event("a", "", PHONE)], late_and_early) == ["c3"]
    assert identity.resolve([event("a", "", PHONE)], tie) == ["c7"]


def test_an_unknown_identifier_makes_a_customer_named_after_it_that_later_events_of_the_batch_join() -> None:
    records = [event("a", "", EMAIL, PHONE), event("b", "", EMAIL), event("c", "c1", COOKIE), event("d", "", COOKIE)]

    assert identity.resolve(records, []) == ["phone:+61412345678", "phone:+61412345678", "c1", "c1"]


def test_an_unknown_kind_ranks_below_every_known_one() -> None:
    assert identity.resolve([event("a", "", ("loyalty", "L1"), COOKIE)], []) == ["cookie:ck-9"]


def test_ingest_writes_with_these_rules_and_customers_of_reads_the_links_in_the_store() -> None:
    """Given a phone first linked to c1, then also used by c2, when an event carries only that phone,
    then it goes to c1, on the write path and when asked afterwards."""
    journeys.write_events([event("a", "c1", PHONE), event("b", "c2", PHONE)])

    report = journeys.write_events([event("x", "", EMAIL, PHONE)], identity.resolve)

    assert report.customers == ("c1",)
    assert identity.customers_of([event("y", "", EMAIL)]) == ["c1"]  # the e-mail is now c1's


def test_the_gateway_without_a_rule_writes_named_customers_only() -> None:
    with pytest.raises(ValueError, match="event 'z' names no customer"):
        journeys.write_events([event("z", "", PHONE)])
    assert journeys.graph_counts()["event"] == 0
