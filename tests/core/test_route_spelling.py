"""Every API route is spelled without a trailing slash, and a client that adds one gets the same
answer from the same view: no redirect (which would lose a POST's body), no 404."""
from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import re_path
from prometheus_client import REGISTRY

from apps.core.routers import other_spelling

pytestmark = pytest.mark.django_db

CALL = {"event_type": "call", "channel": "voice", "phone": "+15550100200"}


def _route_count(route: str, method: str = "GET", status: str = "200") -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("journeyhub_request_seconds_count", labels) or 0.0


def test_a_post_with_the_slash_added_is_answered_with_its_body(api_client) -> None:  # type: ignore[no-untyped-def]
    # given a customer with two calls from a phone
    events = [{**CALL, "event_id": f"s{n}", "customer_id": "c-7", "timestamp": f"2026-02-0{n}T10:00:00Z"}
              for n in (1, 2)]
    assert api_client.post("/api/events/", events, format="json").status_code == 201

    # when the risk decision is asked for with and without the slash
    body = {"phone": "+15550100200", "contact_id": "k-1"}
    plain = api_client.post("/api/decisions/risk", body, format="json")
    slashed = api_client.post("/api/decisions/risk/", body, format="json")

    # then both answer the caller the events made known, from the body the client sent
    assert (plain.status_code, slashed.status_code) == (200, 200)
    assert slashed.json()["customer_id"] == "c-7"
    assert slashed.json()["variables"]["calls"] == plain.json()["variables"]["calls"] == 2


def test_a_resource_with_the_slash_added_is_the_resource(api_client) -> None:  # type: ignore[no-untyped-def]
    api_client.post("/api/events", [{**CALL, "event_id": "r1", "customer_id": "42",
                                     "timestamp": "2026-02-01T10:00:00Z"}], format="json")

    customer = api_client.get("/api/customers/42/")
    journey = api_client.get("/api/customers/42/journey/")

    assert customer.status_code == 200 and customer.json()["customer_id"] == "42"
    assert journey.status_code == 200 and journey.json() == api_client.get("/api/customers/42/journey").json()


def test_a_page_asked_for_with_the_slash_links_to_the_route_as_spelled(api_client) -> None:  # type: ignore[no-untyped-def]
    # given two ingest batches of one customer each
    for n in (1, 2):
        api_client.post("/api/events", [{**CALL, "event_id": f"p{n}", "customer_id": f"p-{n}",
                                         "timestamp": f"2026-02-0{n}T10:00:00Z"}], format="json")

    # when a client asks for the first pages with the slash, then follows the links
    batches = api_client.get("/api/ingest/batches/?limit=1").json()
    customers = api_client.get("/api/customers/?limit=1").json()
    second = api_client.get("/api/customers/?limit=1&after=p-1").json()

    # then the offset and the keyset links name the routes as the schema spells them, query kept
    assert (batches["count"], batches["next"]) == (2, "http://testserver/api/ingest/batches?limit=1&offset=1")
    assert api_client.get(batches["next"]).json()["previous"] == "http://testserver/api/ingest/batches?limit=1"
    assert (customers["results"], customers["next"]) == (["p-1"], "http://testserver/api/customers?after=p-1&limit=1")
    assert (second["results"], second["previous"]) == (["p-2"], "http://testserver/api/customers?before=p-2&limit=1")


def test_the_route_that_answered_labels_the_request(api_client) -> None:  # type: ignore[no-untyped-def]
    # given the request counts of the contact search route and of the catch-all
    before, caught = _route_count("api/contacts"), _route_count("api/^.*$")

    # when the search is asked for with the slash (the spelling of earlier releases)
    response = api_client.get("/api/contacts/")

    # then it is counted under the search's own route
    assert response.status_code == 200 and response.json()["results"] == []
    assert (_route_count("api/contacts") - before, _route_count("api/^.*$") - caught) == (1, 0)


@pytest.mark.parametrize("path", ["/api/nope", "/api/nope/", "/api/kpis//", "/api/"])
def test_a_path_that_is_no_route_either_way_is_a_404_naming_it(api_client, path: str) -> None:  # type: ignore[no-untyped-def]
    response = api_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == f"There is no API endpoint at {path}; the endpoints are listed at /api/docs."
    assert response.json()["instance"] == path


def test_a_path_that_is_no_route_is_counted_as_unmatched(api_client) -> None:  # type: ignore[no-untyped-def]
    before = _route_count("unmatched", status="404")
    assert api_client.get("/api/nope/").status_code == 404
    assert _route_count("unmatched", status="404") - before == 1


def test_a_refused_caller_is_refused_with_either_spelling(client) -> None:  # type: ignore[no-untyped-def]
    # an anonymous caller: the view behind the other spelling checks its callers as it always does
    assert client.get("/api/kpis").status_code == 401
    assert client.get("/api/kpis/").status_code == 401
    assert client.post("/api/decisions/risk/", {"phone": "+15550100200"}, content_type="application/json"
                       ).status_code == 401


def plain_form(request: HttpRequest) -> HttpResponse:
    """A Django view without DRF: the CSRF middleware is what guards its POSTs from other sites."""
    return HttpResponse("saved")


urlpatterns = [re_path(r"^api/form$", plain_form), re_path(r"^api/.*$", other_spelling)]


@pytest.mark.urls("tests.core.test_route_spelling")
def test_the_other_spelling_of_a_plain_view_keeps_its_csrf_check() -> None:
    # given a browser client whose POST carries no CSRF token (a form posted from another site)
    browser = Client(enforce_csrf_checks=True)
    # then the slash added does not slip past the check the route itself gets from the middleware
    assert browser.post("/api/form").status_code == 403
    assert browser.post("/api/form/").status_code == 403
    # and with the token (cookie and form field, as a page of this site sends it) the slash goes through
    browser.cookies["csrftoken"] = "a" * 32
    assert browser.post("/api/form/", {"csrfmiddlewaretoken": "a" * 32}).content == b"saved"
