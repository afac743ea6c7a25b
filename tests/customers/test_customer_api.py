"""Customer read API on a small ingested journey set."""
from __future__ import annotations

from pathlib import Path

import pytest

from apps.ingest.services import ingest_file
from tests.problems import field_errors, problem

pytestmark = pytest.mark.django_db
CSV = str(Path(__file__).parent.parent / "fixtures" / "ingest" / "events_with_bad_rows.csv")


@pytest.fixture
def loaded() -> None:
    ingest_file(uri=CSV, fmt="csv")


def test_customer_detail(api_client, loaded) -> None:  # type: ignore[no-untyped-def]
    body = api_client.get("/api/customers/c1").json()
    assert body == {
        "customer_id": "c1", "first_seen": 1772312400000, "last_seen": 1772319600000, "attributes": {},
        "identifiers": [{"kind": "email", "value": "alice@example.com", "first_seen": 1772316000000},
                        {"kind": "phone", "value": "+61412345678", "first_seen": 1772316000000}],
        "events_by_channel": {"voice": 1, "web": 3}, "event_count": 4}


def test_customer_journey_is_ordered_and_paginated(api_client, loaded) -> None:  # type: ignore[no-untyped-def]
    first = api_client.get("/api/customers/c1/journey?limit=2").json()
    second = api_client.get("/api/customers/c1/journey?limit=2&offset=2").json()
    assert (first["count"], first["next"], first["previous"]) == (
        4, "http://testserver/api/customers/c1/journey?limit=2&offset=2", None)
    assert (second["next"], second["previous"]) == (None, "http://testserver/api/customers/c1/journey?limit=2")
    assert [e["event_id"] for e in first["results"]] == ["w3", "w1"]
    assert [e["event_id"] for e in second["results"]] == ["w2", "v1"]
    assert first["results"][1]["attributes"] == {"page": "home"}


def test_lookup_by_identifier_normalises_the_phone(api_client, loaded) -> None:  # type: ignore[no-untyped-def]
    assert api_client.get("/api/customers", {"identifier": "phone:+61412345678"}).json()["results"] == ["c1"]
    assert api_client.get("/api/customers", {"identifier": "phone:0412345678"}).json()["results"] == ["c1"]
    assert api_client.get("/api/customers", {"identifier": "email:ALICE@example.com"}).json()["results"] == ["c1"]
    assert api_client.get("/api/customers", {"identifier": "phone:+61299999999"}).json()["results"] == []


def test_bad_identifier_and_unknown_customer_are_explained(api_client, loaded) -> None:  # type: ignore[no-untyped-def]
    response = api_client.get("/api/customers", {"identifier": "fax:123"})
    assert "unknown identifier kind 'fax'" in field_errors(response)["identifier"][0]
    missing = api_client.get("/api/customers/nobody")
    assert missing.status_code == 404
    assert problem(missing) == {"type": "about:blank", "title": "Not Found", "status": 404,
                                "detail": "no customer 'nobody'", "instance": "/api/customers/nobody"}
    assert api_client.get("/api/customers/nobody/journey").status_code == 404


def test_customer_list_pages_all_customers(api_client, loaded) -> None:  # type: ignore[no-untyped-def]
    assert api_client.get("/api/customers").json() == {"count": 2, "next": None, "previous": None,
                                                       "results": ["c1", "c2"]}
    assert api_client.get("/api/customers?limit=1").json() == {
        "count": 2, "next": "http://testserver/api/customers?after=c1&limit=1", "previous": None, "results": ["c1"]}


def test_customer_list_pages_by_id_through_its_links(api_client) -> None:  # type: ignore[no-untyped-def]
    # given five customers
    from apps.ingest.services import ingest_records

    ingest_records(records=[{"customer_id": f"k{n}", "event_id": f"e{n}", "event_type": "call", "channel": "voice",
                             "timestamp": f"2026-03-01T0{n}:00:00Z"} for n in range(5)], source="t")
    # when a client follows `next` links, then `previous` links
    pages, url = [], "/api/customers?limit=2"
    while url:
        body = api_client.get(url).json()
        pages.append((body["results"], body["next"], body["previous"]))
        url = body["next"]
    back = api_client.get(pages[-1][2]).json()
    # then each page starts after the last id of the one before (keyset), in the one page format
    base = "http://testserver/api/customers?"
    assert pages == [(["k0", "k1"], f"{base}after=k1&limit=2", None),
                     (["k2", "k3"], f"{base}after=k3&limit=2", f"{base}before=k2&limit=2"),
                     (["k4"], None, f"{base}before=k4&limit=2")]
    assert (back["count"], back["results"], back["next"], back["previous"]) == (
        5, ["k2", "k3"], f"{base}after=k3&limit=2", f"{base}before=k2&limit=2")
    first = api_client.get(back["previous"]).json()
    assert (first["results"], first["previous"]) == (["k0", "k1"], None)
    # an offset page links onwards by id too
    assert api_client.get("/api/customers?limit=2&offset=3").json()["next"] is None
    assert api_client.get("/api/customers?limit=2&offset=1").json()["next"] == f"{base}after=k2&limit=2"


@pytest.mark.parametrize(("query", "field", "detail"), [
    ({"after": "k1", "before": "k3"}, "before", "give after or before, not both"),
    ({"order_by": "churn_score", "after": "k1"}, "order_by",
     "a list ordered by a score pages by offset; after and before page the list by id"),
    ({"order_by": "churn_score", "identifier": "phone:+61412345678"}, "order_by",
     "a list ordered by a score is of every customer; the customers linked to an identifier are listed by id"),
    ({"after": "k1", "offset": 2}, "offset", "a page after or before a customer id starts there; offset is not read "
                                             "with them"),
])
def test_customer_list_cursor_conflicts_are_a_400(api_client, query, field, detail) -> None:  # type: ignore[no-untyped-def]
    response = api_client.get("/api/customers", query)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": field, "detail": detail, "code": "invalid"}]


def test_an_identifiers_customers_page_by_id_too(api_client, loaded) -> None:  # type: ignore[no-untyped-def]
    body = api_client.get("/api/customers", {"identifier": "phone:+61412345678", "after": "c0"}).json()
    assert (body["results"], body["previous"]) == (["c1"], "http://testserver/api/customers?before=c1&"
                                                           "identifier=phone%3A%2B61412345678")


def test_customers_ordered_by_a_stored_score(api_client, loaded) -> None:  # type: ignore[no-untyped-def]
    from graph import journeys

    journeys.set_customer_scores({"c1": {"churn_score": 0.25}, "c2": {"churn_score": 0.75}})
    assert api_client.get("/api/customers", {"order_by": "churn_score"}).json()["results"] == [
        {"customer_id": "c2", "churn_score": 0.75}, {"customer_id": "c1", "churn_score": 0.25}]
    lowest = api_client.get("/api/customers", {"order_by": "-churn_score", "limit": 1}).json()
    assert (lowest["count"], lowest["results"]) == (2, [{"customer_id": "c1", "churn_score": 0.25}])
    bad = api_client.get("/api/customers", {"order_by": "name"})
    not_stored = api_client.get("/api/customers", {"order_by": "risk_score"})
    assert list(field_errors(bad)) == ["order_by"]
    assert not_stored.json()["detail"] == ("order_by: 'risk_score' is not a stored score: the scores are churn_score, "
                                           "csat_low_score (highest first; with '-' before, lowest first)")
