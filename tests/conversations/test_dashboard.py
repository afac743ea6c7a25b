"""The contacts page and the Customer 360 conversation section, as people see them."""
from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_contacts_page_searches_with_filters_and_links_to_customer_360(loaded, analyst: Client) -> None:  # type: ignore[no-untyped-def]
    response = analyst.get("/contacts/", {"q": "charge", "category": "Fraud"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "1 contacts, newest first" in html
    assert 'href="/customers/phone:+61412000222/#contact-c-callback-1"' in html
    assert "There is a charge on my statement I never made" in html
    assert 'href="/journeys/explorer/?event=call_callback&amp;direction=to"' in html


def test_contacts_page_says_what_is_wrong_with_a_filter(loaded, analyst: Client) -> None:  # type: ignore[no-untyped-def]
    response = analyst.get("/contacts/", {"sentiment_min": "9"})

    assert response.status_code == 200
    assert "sentiment_min: Ensure this value is less than or equal to 5." in response.content.decode()
    backwards = analyst.get("/contacts/", {"duration_min": "100", "duration_max": "10", "category": "fees"})
    html = backwards.content.decode()
    assert "duration_max: must not be below duration_min" in html  # the checks of the API's search
    assert "Fix the filters above to search" in html


def test_contacts_page_is_for_analysts(loaded, viewer: Client) -> None:  # type: ignore[no-untyped-def]
    assert viewer.get("/contacts/").status_code == 403


def test_customer_360_shows_sentiment_curves_categories_summary_and_transcript(loaded, analyst: Client) -> None:  # type: ignore[no-untyped-def]
    html = analyst.get("/customers/cust-100/").content.decode()

    assert 'id="contact-c-voice-1"' in html
    assert 'aria-label="Sentiment by quarter: agent 5.0, 0.0, 2.5, 5.0; customer -2.5, -5.0, 0.0, 5.0"' in html
    assert 'points="0,30.0 53,40.0 107,20.0 160,0.0" data-role="customer"' in html
    assert '<span class="badge">Cancellation</span> <span class="badge">Fees</span>' in html
    assert "Customer called to cancel a credit card over an annual fee" in html
    assert "It&#x27;s [CARD] and you can call me back on [PHONE] if we get cut off." in html
    assert "4111" not in html
