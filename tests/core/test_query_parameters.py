"""A query parameter an API operation does not read is refused by name (apps/core/parameters.py),
whichever spelling of the route reached it, and the parameters the schema lists are the ones read."""
from __future__ import annotations

from collections import Counter

import pytest
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator

from apps.core import parameters

pytestmark = pytest.mark.django_db

CALL = {"event_type": "call", "channel": "voice", "phone": "+15550100200"}
INVALID = "urn:journeyhub:problem:invalid-request"
TOP_READS = ("attribute, category, channel, limit, milestone, segment, sentiment_max, sentiment_min, since, "
             "steps, until, with_channel")


def _events(api_client, n: int = 3) -> None:  # type: ignore[no-untyped-def]
    steps = ["call", "web_visit", "call"]
    events = [{**CALL, "event_type": steps[i % 3], "event_id": f"q{i}", "customer_id": "c-1",
               "timestamp": f"2026-02-0{i + 1}T10:00:00Z"} for i in range(n)]
    assert api_client.post("/api/events", events, format="json").status_code == 201


def test_a_mistyped_parameter_is_refused_by_name_with_the_ones_the_operation_reads(api_client) -> None:  # type: ignore[no-untyped-def]
    _events(api_client)

    refused = api_client.get("/api/journeys/top?max_steps=2&steps=2")
    read = api_client.get("/api/journeys/top?steps=2")

    assert refused.status_code == 400 and refused["Content-Type"] == "application/problem+json"
    detail = f"not a parameter of GET /api/journeys/top; the parameters it reads: {TOP_READS}"
    assert refused.json()["type"] == INVALID
    assert refused.json()["detail"] == f"max_steps: {detail}"
    assert refused.json()["errors"] == [{"field": "max_steps", "detail": detail, "code": "unknown_parameter"}]
    assert read.status_code == 200
    assert read.json()["max_steps"] == 2 and read.json()["journeys"][0]["steps"] == ["call", "web_visit"]


def test_each_unknown_parameter_is_named_and_the_slashed_spelling_is_refused_alike(api_client) -> None:  # type: ignore[no-untyped-def]
    answer = api_client.get("/api/customers/?page=2&limit=1&sort=name")

    assert answer.status_code == 400
    reads = "after, before, identifier, limit, offset, order_by"
    assert [(e["field"], e["detail"]) for e in answer.json()["errors"]] == [
        ("page", f"not a parameter of GET /api/customers/; the parameters it reads: {reads}"),
        ("sort", f"not a parameter of GET /api/customers/; the parameters it reads: {reads}")]


def test_an_operation_that_reads_no_parameter_says_so_and_format_is_read_everywhere(api_client) -> None:  # type: ignore[no-untyped-def]
    refused = api_client.get("/api/ping?verbose=1")
    head = api_client.head("/api/ping?verbose=1")

    assert refused.status_code == head.status_code == 400
    assert refused.json()["detail"] == "verbose: not a parameter of GET /api/ping; the parameters it reads: none"
    assert api_client.get("/api/ping?format=json").json() == {"client": "api-key:test-client"}
    assert api_client.get("/api/ping").status_code == 200


def test_the_quarantine_reads_its_page_not_the_batch_lists_filters(api_client) -> None:  # type: ignore[no-untyped-def]
    # given a batch with one good event and one quarantined
    body = [{**CALL, "event_id": "g1", "customer_id": "c-2", "timestamp": "2026-02-01T10:00:00Z"},
            {**CALL, "event_id": "b1", "customer_id": "c-2", "timestamp": "not a time"}]
    batch = api_client.post("/api/events", body, format="json").json()["batch"]

    # when its quarantine is read, and read with a filter of the batch list
    rows = api_client.get(f"/api/ingest/batches/{batch}/quarantine?limit=10")
    filtered = api_client.get(f"/api/ingest/batches/{batch}/quarantine?status=failed")

    # then the row is there, and the filter (which used to hide the batch itself: a 404) is refused
    assert rows.status_code == 200 and [r["row_number"] for r in rows.json()["results"]] == [2]
    assert filtered.status_code == 400
    assert filtered.json()["errors"][0]["field"] == "status"
    assert filtered.json()["errors"][0]["detail"].endswith("the parameters it reads: limit, offset")


def test_every_operation_of_the_schema_has_the_parameters_the_schema_lists() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    listed = {(path, method.upper()): {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
              for path, item in schema["paths"].items() for method, op in item.items()}

    declared = parameters.declared()

    assert len(declared) == len(listed) == 49
    assert Counter(names - {"format"} for names in declared.values()) == Counter(
        frozenset(names - {"format"}) for names in listed.values())
    assert all("format" in names for names in declared.values())
    assert declared[(resolve("/api/journeys/funnel/customers").func, "GET")] == {
        "attribute", "by_channel", "category", "channel", "dropped", "entry_channel", "format", "limit",
        "milestone", "offset", "segment", "sentiment_max", "sentiment_min", "since", "step", "steps", "until",
        "window_hours"}


def test_every_operation_documents_the_400_of_a_parameter_it_does_not_read() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)

    without = [f"{method} {path}" for path, item in schema["paths"].items() for method, op in item.items()
               if "400" not in op["responses"]]

    assert without == []
    assert "query parameter the operation does not read" in schema["paths"]["/api/ping"]["get"]["responses"]["400"][
        "description"]
