"""Request limits answered as problem details: body size consistent with 10,000 events per request,
nesting depth, and bounded list parameters on every paginated endpoint."""
from __future__ import annotations

import json

import pytest
from django.urls import reverse

from apps.core.pagination import MAX_LIMIT
from graph import journeys
from tests.problems import field_errors, problem

pytestmark = pytest.mark.django_db

EVENT = {"customer_id": "c1", "event_type": "web_visit", "channel": "web", "timestamp": "2026-02-01T00:00:00Z",
         "page": "/accounts/savings/compare?utm_source=newsletter&utm_medium=email", "device": "ios-app-7.4",
         "session": "3f2b9c1e-8a4d-4f6b-9e2a-7c5d1b0a9f3e"}


def test_ten_thousand_events_in_one_request_are_accepted(api_client) -> None:  # type: ignore[no-untyped-def]
    events = [{**EVENT, "event_id": f"e{n:05d}", "customer_id": f"c{n % 500}"} for n in range(10_000)]
    body = json.dumps(events)
    assert len(body) > 2_621_440  # more than Django's default upload limit

    response = api_client.post("/api/events", body, content_type="application/json")

    assert response.status_code == 201
    assert (response.json()["received"], response.json()["loaded"]) == (10_000, 10_000)
    assert len(journeys.customer_events("c7")) == 20


def test_a_body_over_the_limit_is_a_413_problem_naming_the_limit(api_client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps([{**EVENT, "event_id": f"e{n}"} for n in range(20)])

    response = api_client.post("/api/events", body, content_type="application/json")

    assert response.status_code == 413
    assert problem(response) == {
        "type": "about:blank", "title": "Content Too Large", "status": 413, "instance": "/api/events",
        "detail": f"request body is {len(body):,} bytes; the limit is 1,000 bytes "
                  "(API_MAX_BODY_BYTES; POST /api/events takes up to 10,000 events)"}


def test_more_events_than_a_request_takes_is_a_400_problem(api_client) -> None:  # type: ignore[no-untyped-def]
    response = api_client.post("/api/events", json.dumps([{"x": 1}] * 10_001), content_type="application/json")

    assert problem(response) == {
        "type": "urn:journeyhub:problem:invalid-request", "title": "The request is not valid.", "status": 400,
        "detail": "send between 1 and 10,000 events", "instance": "/api/events",
        "errors": [{"field": None, "detail": "send between 1 and 10,000 events", "code": "invalid"}]}


@pytest.mark.parametrize("depth", [65, 100_000])
def test_deeply_nested_json_is_a_400(api_client, depth: int) -> None:  # type: ignore[no-untyped-def]
    response = api_client.post("/api/events", "[" * depth + "]" * depth, content_type="application/json")

    assert problem(response) == {
        "type": "urn:journeyhub:problem:invalid-request", "title": "The request is not valid.", "status": 400,
        "instance": "/api/events", "detail": "the body is nested more than 64 levels deep",
        "errors": [{"field": None, "detail": "the body is nested more than 64 levels deep", "code": "parse_error"}]}


LISTS = ["/api/webhooks/", "/api/ingest/batches/", "/api/milestones/", "/api/models/"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(("query", "error"), [
    ("limit=9223372036854775808", {"limit": [f"Ensure this value is between 1 and {MAX_LIMIT}."]}),
    ("limit=-1", {"limit": [f"Ensure this value is between 1 and {MAX_LIMIT}."]}),
    ("limit=ten", {"limit": ["A valid integer is required."]}),
    ("offset=-5", {"offset": ["Ensure this value is between 0 and 9007199254740991."]}),
    ("offset=99999999999999999999", {"offset": ["Ensure this value is between 0 and 9007199254740991."]}),
])
def test_list_parameters_out_of_bounds_are_a_400(api_client, path: str, query: str, error: dict) -> None:  # type: ignore[no-untyped-def]
    from apps.journeys.models import MilestoneDefinition

    MilestoneDefinition.objects.create(name="Purchase", slug="purchase", trigger="event_type", event_type="purchase")

    response = api_client.get(f"{path}?{query}")

    assert field_errors(response) == error


def test_list_parameters_in_bounds_page_as_before(api_client) -> None:  # type: ignore[no-untyped-def]
    from apps.journeys.models import MilestoneDefinition

    for n in range(3):
        MilestoneDefinition.objects.create(name=f"M{n}", slug=f"m{n}", trigger="event_type", event_type="x")

    page = api_client.get("/api/milestones/?limit=2&offset=1").json()

    assert (page["count"], [m["slug"] for m in page["results"]]) == (3, ["m1", "m2"])


@pytest.mark.parametrize("query", ["offset=9223372036854775808", "offset=-1"])
def test_a_customer_journey_offset_out_of_bounds_is_a_400(api_client, query: str) -> None:  # type: ignore[no-untyped-def]
    response = api_client.get(f"/api/customers/c1/journey?{query}")

    assert list(field_errors(response)) == ["offset"]


ODD_ID = "acct/42?x=1#frag %zz"


def test_customer_ids_with_url_special_characters_reach_the_api_and_the_dashboard(api_client, client,
                                                                                  django_user_model) -> None:  # type: ignore[no-untyped-def]
    api_client.post("/api/events", [{**EVENT, "event_id": "odd-1", "customer_id": ODD_ID}], format="json")
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))

    detail = api_client.get(reverse("api-customer", args=[ODD_ID]))
    journey = api_client.get(reverse("api-customer-journey", args=[ODD_ID]))
    scores = api_client.get(reverse("api-customer-scores", args=[ODD_ID]))
    listing = client.get("/customers/")
    page = client.get(reverse("dashboard:customer", args=[ODD_ID]))

    assert reverse("api-customer", args=[ODD_ID]) == "/api/customers/acct/42%3Fx=1%23frag%20%25zz"
    assert (detail.status_code, detail.json()["customer_id"]) == (200, ODD_ID)
    assert [e["event_id"] for e in journey.json()["results"]] == ["odd-1"]
    assert scores.status_code == 200
    assert listing.status_code == 200 and "/customers/acct/42%3Fx=1%23frag%20%25zz/" in listing.content.decode()
    assert page.status_code == 200 and ODD_ID in page.content.decode()


def test_options_on_the_kpi_widget_in_html_describes_the_route(api_client) -> None:  # type: ignore[no-untyped-def]
    """Found by schemathesis: the HTML renderer had no template for the OPTIONS description."""
    response = api_client.options("/api/kpis/0/widget?format=html&period=day")

    assert response.status_code == 200
    assert "&quot;name&quot;: &quot;Kpi Widget&quot;" in response.content.decode()


def test_a_funnel_window_beyond_a_century_is_a_400(api_client) -> None:  # type: ignore[no-untyped-def]
    """Found by probing: 1e308 hours overflowed the conversion to milliseconds (a 500)."""
    response = api_client.get("/api/journeys/funnel?steps=a,b&window_hours=1e308")

    assert field_errors(response) == {"window_hours": ["Ensure this value is less than or equal to 878400."]}
