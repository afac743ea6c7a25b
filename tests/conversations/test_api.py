"""GET /api/contacts/ (full text and filters) and GET /api/contacts/{id}, with who may call them."""
from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.problems import field_errors

pytestmark = pytest.mark.django_db


def _ids(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return [hit["contact_id"] for hit in response.json()["results"]]


def test_full_text_search_finds_contacts_by_what_was_said(loaded, api_client: APIClient) -> None:  # type: ignore[no-untyped-def]
    response = api_client.get("/api/contacts/", {"q": "cancel fees"})

    body = response.json()
    assert (body["count"], _ids(response)) == (1, ["c-voice-1"])
    hit = body["results"][0]
    assert hit["snippet"] == "Hi, my name is [NAME]. I want to cancel my credit card, these fees are ridiculous."
    assert (hit["customer_id"], hit["queue"], hit["agent"], hit["categories"]) == (
        "cust-100", "Cards", "jsmith", ["Cancellation", "Fees"])
    assert _ids(api_client.get("/api/contacts/", {"q": "refunded"})) == ["c-chat-1"]
    assert _ids(api_client.get("/api/contacts/", {"q": "Okafor"})) == []  # redacted before it was stored


@pytest.mark.parametrize(("params", "expected"), [
    ({"category": "Fees"}, ["c-chat-1", "c-voice-1"]),
    ({"sentiment_max": 1.0}, ["c-callback-1", "c-chat-1"]),
    ({"sentiment_min": 1.0, "sentiment_max": 5}, ["c-voice-1"]),
    ({"duration_min": 400}, ["c-chat-1", "c-voice-2"]),
    ({"duration_max": 300, "channel": "voice"}, ["c-callback-1", "c-abandon-1"]),
    ({"channel": "chat"}, ["c-chat-1"]),
    ({"queue": "Retention"}, ["c-voice-2"]),
    ({"agent": "jsmith", "q": "card"}, ["c-callback-1", "c-voice-1"]),
    ({"since": "2026-11-03T00:00:00Z", "until": "2026-11-04T10:00:00Z"}, ["c-abandon-1", "c-chat-1"]),
    ({"customer_id": "cust-100"}, ["c-voice-2", "c-voice-1"]),
])
def test_filters_combine_with_the_search(loaded, api_client: APIClient, params, expected) -> None:  # type: ignore[no-untyped-def]
    assert _ids(api_client.get("/api/contacts/", params)) == expected


def test_one_contact_in_full(loaded, api_client: APIClient) -> None:  # type: ignore[no-untyped-def]
    body = api_client.get("/api/contacts/c-voice-1").json()

    assert [m["name"] for m in body["matched"]] == ["Cancellation", "Fees"]
    assert body["characteristics"]["interruptions"] == {"count": 1, "total_ms": 700, "by_role": {"AGENT": 1}}
    assert body["links"] == [{"contact_id": "c-voice-2", "link": "next"}]
    assert body["redaction"]["found"] == {"EMAIL": 1, "PHONE": 1, "CARD": 1, "NAME": 3}
    assert [t["role"] for t in body["turns"]][:3] == ["AGENT", "CUSTOMER", "AGENT"]
    assert body["turns"][8]["content"] == "Done. I'll email the confirmation to [EMAIL] today."
    links = api_client.get("/api/contacts/c-voice-2").json()["links"]
    assert links == [{"contact_id": "c-voice-1", "link": "previous"}]


def test_bad_parameters_and_unknown_contacts_get_clear_errors(loaded, api_client: APIClient) -> None:  # type: ignore[no-untyped-def]
    response = api_client.get("/api/contacts/", {"sentiment_min": "angry", "channel": "fax"})
    assert set(field_errors(response)) == {"sentiment_min", "channel"}
    assert api_client.get("/api/contacts/nope").status_code == 404


@pytest.mark.parametrize(("query", "errors"), [
    ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, {"until": ["must be after since"]}),
    ({"sentiment_min": 0.5, "sentiment_max": -0.5}, {"sentiment_max": ["must not be below sentiment_min"]}),
    ({"duration_min": 100, "duration_max": 10}, {"duration_max": ["must not be below duration_min"]}),
    ({"category": "fees"}, {"category": ["unknown contact category 'fees'; known: Cancellation, Fees, Fraud, Refund"]}),
])
def test_a_backwards_range_or_a_category_no_contact_has_is_refused_by_name(  # type: ignore[no-untyped-def]
        loaded, api_client: APIClient, query, errors) -> None:
    """Each was answered with an empty page, as if no contact fitted."""
    assert field_errors(api_client.get("/api/contacts", query)) == errors


def test_who_may_read_contacts(loaded, analyst: Client, viewer: Client) -> None:  # type: ignore[no-untyped-def]
    assert analyst.get("/api/contacts/").status_code == 200
    assert viewer.get("/api/contacts/").status_code == 403
    assert viewer.get("/api/contacts/c-voice-1").status_code == 403
    assert Client().get("/api/contacts/").status_code in (401, 403)


def test_the_list_takes_a_fixed_number_of_queries(loaded, api_client: APIClient, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection

    api_client.get("/api/contacts/")  # API key cached
    # ids up to the count limit (count and page in one statement on SQLite, two elsewhere), their columns,
    # categories, texts
    with django_assert_num_queries(4 if connection.vendor == "sqlite" else 5):
        api_client.get("/api/contacts/", {"q": "card", "limit": 2})


def test_pages_follow_newest_first_and_counts_stop_at_the_limit(loaded, api_client: APIClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from apps.conversations import selectors

    everything = _ids(api_client.get("/api/contacts/", {"channel": "voice"}))
    pages = [_ids(api_client.get("/api/contacts/", {"channel": "voice", "limit": 2, "offset": o})) for o in (0, 2)]
    monkeypatch.setattr(selectors, "COUNT_LIMIT", 3)
    capped = api_client.get("/api/contacts/", {"channel": "voice", "limit": 2}).json()

    assert everything == ["c-callback-1", "c-abandon-1", "c-voice-2", "c-voice-1"]
    assert pages == [everything[:2], everything[2:]]
    assert (capped["count"], capped["next"] is not None) == (3, True)
