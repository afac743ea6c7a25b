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
        "count": 2, "next": "http://testserver/api/customers?limit=1&offset=1", "previous": None, "results": ["c1"]}


def test_customers_ordered_by_a_stored_score(api_client, loaded) -> None:  # type: ignore[no-untyped-def]
    from graph import journeys

    journeys.set_customer_scores({"c1": {"churn_score": 0.25}, "c2": {"churn_score": 0.75}})
    assert api_client.get("/api/customers", {"order_by": "churn_score"}).json()["results"] == [
        {"customer_id": "c2", "churn_score": 0.75}, {"customer_id": "c1", "churn_score": 0.25}]
    lowest = api_client.get("/api/customers", {"order_by": "-churn_score", "limit": 1}).json()
    assert (lowest["count"], lowest["results"]) == (2, [{"customer_id": "c1", "churn_score": 0.25}])
    bad = api_client.get("/api/customers", {"order_by": "name"})
    assert list(field_errors(bad)) == ["order_by"]
