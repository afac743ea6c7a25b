"""One error shape: every kind of error the API answers is RFC 9457 problem details
(`application/problem+json`), whoever raises it — a serializer, DRF, Django's URL resolver, a
middleware, the throttle, an outage, a decision endpoint — while dashboard pages keep their HTML
error pages. One list format: every list is a limit/offset page."""
from __future__ import annotations

import copy
import json

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connection
from django.test import Client, RequestFactory, override_settings
from rest_framework.test import APIClient

from apps.core import errors
from apps.core.auth import key_cache
from apps.core.models import ApiKey
from apps.journeys.models import KpiDefinition
from journeyhub import urls
from tests.dashboard.conftest import client_for
from tests.problems import problem

pytestmark = pytest.mark.django_db
INVALID = {"type": "urn:journeyhub:problem:invalid-request", "title": "The request is not valid.", "status": 400}


def test_a_bad_query_parameter_names_itself_in_errors(api_client: APIClient) -> None:
    response = api_client.get("/api/journeys/top", {"steps": 0})

    assert problem(response) == {**INVALID, "instance": "/api/journeys/top",
                                 "detail": "steps: Ensure this value is greater than or equal to 1.",
                                 "errors": [{"field": "steps", "code": "min_value",
                                             "detail": "Ensure this value is greater than or equal to 1."}]}


def test_nested_body_errors_are_dotted_paths(api_client: APIClient) -> None:
    response = api_client.post("/api/milestones/", {"name": "Buy", "slug": "buy", "trigger": "sequence",
                                                    "sequence": ["cart", 7]}, format="json")

    assert problem(response)["errors"] == [{"field": "sequence.1", "detail": "Not a valid string.", "code": "invalid"}]


def test_django_http404_in_a_view_is_a_problem(api_client: APIClient) -> None:
    response = api_client.get("/api/kpis/nope/series")

    assert problem(response) == {"type": "about:blank", "title": "Not Found", "status": 404,
                                 "detail": "no KPI 'nope'",
                                 "instance": "/api/kpis/nope/series"}


@pytest.mark.parametrize("path,detail", [
    ("/api/kpis/nope", "no KPI 'nope'"), ("/api/kpis/nope/widget", "no KPI 'nope'"),
    ("/api/milestones/vip/customers", "no milestone 'vip'"), ("/api/webhooks/7", "no webhook 7"),
    ("/api/ingest/batches/99/quarantine", "no ingest batch 99")])
def test_a_resource_not_found_is_named_in_words(api_client: APIClient, path: str, detail: str) -> None:
    response = api_client.get(path)

    assert (response.status_code, problem(response)["detail"]) == (404, detail)


def test_an_unknown_api_url_is_a_problem_and_an_unknown_page_stays_html(api_client: APIClient) -> None:
    response = api_client.get("/api/nothing-here")
    page = Client().get("/nothing-here/", HTTP_ACCEPT="text/html")

    assert problem(response) == {"type": "about:blank", "title": "Not Found", "status": 404,
                                 "detail": "There is no API endpoint at /api/nothing-here; the endpoints are listed "
                                           "at /api/docs.", "instance": "/api/nothing-here"}
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_an_unknown_api_url_is_a_problem_with_debug_on_too(api_client: APIClient, settings) -> None:
    settings.DEBUG = True  # the local demo's settings: Django's own 404 there is an HTML debug page

    for method in ("get", "post"):
        response = getattr(api_client, method)("/api/decisions/feedback", {"contact_id": "k1"}, format="json")
        assert problem(response) == {"type": "about:blank", "title": "Not Found", "status": 404,
                                     "detail": "There is no API endpoint at /api/decisions/feedback; the endpoints "
                                               "are listed at /api/docs.", "instance": "/api/decisions/feedback"}


def test_a_method_the_endpoint_lacks_is_a_405_problem_with_allow(api_client: APIClient) -> None:
    response = api_client.delete("/api/ping")

    assert problem(response) == {"type": "about:blank", "title": "Method Not Allowed", "status": 405,
                                 "detail": 'Method "DELETE" not allowed.', "instance": "/api/ping"}
    assert sorted(response["Allow"].split(", ")) == ["GET", "OPTIONS"]  # DRF orders them by first use


def test_missing_and_wrong_keys_are_401_problems_with_the_challenge() -> None:
    missing = APIClient().get("/api/ping")
    wrong = APIClient().get("/api/ping", HTTP_AUTHORIZATION="Api-Key nope")

    assert problem(missing) == {"type": "about:blank", "title": "Unauthorized", "status": 401,
                                "detail": "Authentication credentials were not provided.", "instance": "/api/ping"}
    assert problem(wrong)["detail"] == "Invalid or revoked API key."
    assert missing["WWW-Authenticate"] == wrong["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize(("header", "problem_found"), [
    ("{key}", "it holds a value with no scheme before it"),  # a key pasted alone, as Swagger's Authorize sends it
    ("Bearer {key}", "its scheme `Bearer` is not read here"),
    ("api-key {key}", "the scheme is spelled `Api-Key`"),
    ("Api-Key", "it names no key"),
])
def test_an_authorization_header_that_is_not_an_api_key_says_how_to_send_one(header, problem_found, api_key) -> None:  # type: ignore[no-untyped-def]
    """Such a header was answered "Authentication credentials were not provided.", though one was."""
    response = APIClient().get("/api/ping", HTTP_AUTHORIZATION=header.format(key=api_key))

    assert (response.status_code, response["WWW-Authenticate"]) == (401, "Api-Key")
    assert problem(response)["detail"] == (f"The Authorization header is not an API key ({problem_found}): "
                                           "send `Authorization: Api-Key <key>`.")
    assert api_key not in response.content.decode()


def test_a_person_signed_in_is_not_refused_for_a_proxys_authorization_header(db) -> None:  # type: ignore[no-untyped-def]
    """A proxy's Basic credentials in front of the dashboard reach the API too: the session still counts."""
    person = client_for("vera", "viewer")

    response = person.get("/api/kpis", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    stranger = APIClient().get("/api/kpis", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")

    assert response.status_code == 200
    assert problem(stranger)["detail"] == ("The Authorization header is not an API key (its scheme `Basic` is not "
                                           "read here): send `Authorization: Api-Key <key>`.")


@pytest.mark.usefixtures("still_throttle_clock")
def test_a_throttled_caller_gets_a_429_problem_with_retry_after() -> None:
    cache.clear()
    key_cache.clear()
    _, raw = ApiKey.issue("busy", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    config = copy.deepcopy(settings.REST_FRAMEWORK)
    config["DEFAULT_THROTTLE_RATES"]["api"] = "1/min"
    with override_settings(REST_FRAMEWORK=config):
        client.get("/api/ping")
        refused = client.get("/api/ping")
    cache.clear()

    body = problem(refused)
    wait = int(refused["Retry-After"])
    assert 1 <= wait <= 60
    assert body == {"type": "about:blank", "title": "Too Many Requests", "status": 429, "instance": "/api/ping",
                    "detail": f"Request was throttled. Expected available in {wait} second{'s' * (wait != 1)}.",
                    "retry_after": wait}


def test_the_database_down_is_a_503_problem_for_the_api(api_client: APIClient) -> None:
    def refuse(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        raise OperationalError("unable to open database file")

    key_cache.clear()
    with connection.execute_wrapper(refuse):
        response = api_client.get("/api/milestones/")

    assert problem(response) == {
        "type": "urn:journeyhub:problem:database-unavailable", "title": "The database is unavailable.",
        "status": 503, "detail": "The database did not answer; try again shortly.", "instance": "/api/milestones/"}


def test_an_unhandled_failure_under_the_api_is_a_500_problem_and_a_page_keeps_html() -> None:
    api = errors.server_error(RequestFactory().get("/api/customers"))
    page = errors.server_error(RequestFactory().get("/customers/"))

    assert urls.handler500 == "apps.core.errors.server_error"
    assert (api.status_code, api["Content-Type"]) == (500, "application/problem+json")
    assert json.loads(api.content) == {
        "type": "about:blank", "title": "Internal Server Error", "status": 500, "instance": "/api/customers",
        "detail": "The server failed to answer this request; the failure is logged with the request id of this "
                  "response (X-Request-ID)."}
    assert (page.status_code, page["Content-Type"].startswith("text/html")) == (500, True)


def test_every_event_quarantined_is_a_400_problem_keeping_the_batch(api_client: APIClient) -> None:
    response = api_client.post("/api/events", [{"customer_id": "c1", "event_type": "call", "channel": "phone"}],
                               format="json")

    body = problem(response)
    assert body == {
        "type": "urn:journeyhub:problem:events-quarantined", "title": "Every event of the request was quarantined.",
        "status": 400, "instance": "/api/events", "batch": body["batch"], "received": 1, "loaded": 0,
        "duplicates": 0, "detail": f"no event landed: event 1: {body['quarantined'][0]['reason']}",
        "quarantined": [{"row_number": 1, "reason": body["quarantined"][0]["reason"],
                         "raw": {"customer_id": "c1", "event_type": "call", "channel": "phone"}}]}
    assert "timestamp" in body["quarantined"][0]["reason"]


def test_decision_endpoints_answer_problems(api_client: APIClient) -> None:
    no_caller = api_client.post("/api/decisions/intent", {}, format="json")
    bad_phone = api_client.post("/api/decisions/risk", {"phone": "12"}, format="json")
    unknown = api_client.post("/api/decisions/intent/feedback", {"contact_id": "nope", "intent": "AC_NE"},
                              format="json")
    nobody = api_client.get("/api/profiles/by-phone/+61499999999")

    assert problem(no_caller)["errors"] == [{"field": "customer_id", "detail": "give customer_id or phone",
                                             "code": "invalid"}]
    assert [e["field"] for e in problem(bad_phone)["errors"]] == ["phone"]
    assert problem(unknown)["type"] == "urn:journeyhub:problem:unknown-contact"
    assert problem(nobody) == {"type": "about:blank", "title": "Not Found", "status": 404,
                               "detail": "no customer has phone +61499999999",
                               "instance": "/api/profiles/by-phone/+61499999999"}


def test_metrics_refusal_is_a_problem(client: Client) -> None:
    response = client.get("/metrics")

    assert problem(response) == {"type": "about:blank", "title": "Unauthorized", "status": 401,
                                 "detail": "metrics need the scrape token or a staff login", "instance": "/metrics"}


def test_a_request_body_that_is_not_json_is_a_415_problem(api_client: APIClient) -> None:
    response = api_client.post("/api/milestones/", "name=x", content_type="application/x-www-form-urlencoded")

    assert problem(response)["status"] == 415


def test_the_api_answers_json_whatever_the_accept_header_or_format(api_client: APIClient) -> None:
    html = api_client.get("/api/ping", HTTP_ACCEPT="text/html")
    xml = api_client.get("/api/ping?format=xml")

    assert (html.status_code, html["Content-Type"]) == (200, "application/json")
    assert (xml.status_code, xml["Content-Type"]) == (200, "application/json")


def test_kpis_are_a_page_like_every_list(api_client: APIClient) -> None:
    KpiDefinition.objects.create(name="Contacts per customer", slug="contacts", kind="contacts_per_customer")

    body = api_client.get("/api/kpis/?limit=1").json()

    assert (body["count"], body["next"], body["previous"], [k["slug"] for k in body["results"]]) == (
        1, None, None, ["contacts"])


def test_json_text_and_flags_take_their_own_types(api_client: APIClient, settings) -> None:  # type: ignore[no-untyped-def]
    """Found by schemathesis: `0` was read as the text "0" and as false, and `{}` as no milestones."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    hook = {"name": "crm", "url": "http://127.0.0.1:9/hook", "secret": "long-enough"}

    flag = api_client.post("/api/webhooks/", {**hook, "active": 0}, format="json")
    milestones = api_client.post("/api/webhooks/", {**hook, "milestones": {}}, format="json")
    text = api_client.post("/api/decisions/intent", {"customer_id": 0}, format="json")

    assert [e["field"] for e in problem(flag)["errors"]] == ["active"]
    assert problem(milestones)["errors"] == [{"field": "milestones", "detail": "Expected a list of milestone slugs.",
                                              "code": "invalid"}]
    assert problem(text)["errors"] == [{"field": "customer_id", "detail": "Not a valid string.", "code": "invalid"}]


@pytest.mark.parametrize(("body", "content_type", "detail", "position"), [
    ('[{"event_id": "e1",\n  "customer_id" "c1"}]', "application/json",
     "the body is not valid JSON: Expecting ':' delimiter at line 2, column 17", {"line": 2, "column": 17}),
    ("[1, 2", "application/json",
     "the body is not valid JSON: Expecting ',' delimiter at line 1, column 6", {"line": 1, "column": 6}),
    (b'[{"name": "caf\xe9"}]', "application/json; charset=utf-8",
     "the body is not utf-8 text: byte 14 cannot be decoded at line 1, column 15", {"line": 1, "column": 15}),
    ("[1]", "application/json; charset=bz2_codec",
     'Unsupported charset "bz2_codec" in request Content-Type header.', {}),
])
def test_a_body_that_is_not_json_is_an_invalid_request_naming_where_it_breaks(
        api_client: APIClient, body: str | bytes, content_type: str, detail: str, position: dict) -> None:
    # when
    response = api_client.post("/api/events", body, content_type=content_type)
    # then
    assert problem(response) == {**INVALID, "instance": "/api/events", "detail": detail,
                                 "errors": [{"field": None, "detail": detail, "code": "parse_error", **position}]}


def test_413_is_titled_content_too_large_as_rfc_9110_names_it(api_client: APIClient, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    response = api_client.post("/api/events", "[" + "1," * 20 + "1]", content_type="application/json")
    assert (response.status_code, response.reason_phrase, problem(response)["title"]) == (
        413, "Content Too Large", "Content Too Large")
