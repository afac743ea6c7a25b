"""Journeys, paths and funnels filtered by what was said in contacts: category and sentiment reach the
analytics engine through the event store's contacts table, joined to events by event id at query time.

The loaded set (tests/conversations/conftest.py): cust-100 called (c-voice-1, call_inbound: Cancellation,
Fees, customer sentiment 1.2) and was transferred (c-voice-2); pat chatted (c-chat-1, chat_api: Fees,
Refund, 0.8); +61412000222 abandoned a call (c-abandon-1) and was called back (c-callback-1,
call_callback: Fraud, 0.4). Here cust-100 also made an earlier, unanalysed call.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from apps.events import contacts as event_contacts
from apps.events.analytics import frames
from apps.events.engine import get_engine

pytestmark = pytest.mark.django_db


@pytest.fixture
def with_earlier_call(loaded: Path, tmp_path: Path) -> None:
    csv = tmp_path / "earlier.csv"
    csv.write_text("customer_id,event_id,event_type,channel,timestamp\n"
                   "cust-100,early-call,call_inbound,voice,2026-10-01T09:00:00+00:00\n")
    call_command("ingest", str(csv), "--format", "csv")


def _nodes(body: dict) -> list[tuple[str, int]]:
    return [(n["id"], n["customers"]) for n in body["nodes"]]


def test_paths_from_calls_that_matched_a_category_start_at_those_calls(api_client, with_earlier_call):
    # given cust-100's first call (unanalysed) and a later one that matched Cancellation
    everyone = api_client.get("/api/journeys/paths", {"start_event": "call_inbound", "steps": 2}).json()
    # when the paths are asked from calls that matched Cancellation
    matched = api_client.get("/api/journeys/paths", {"start_event": "call_inbound", "steps": 2,
                                                     "category": "Cancellation"}).json()
    # then only cust-100 is anchored, at the matching call, whose next step is its transfer
    assert _nodes(everyone) == [("1:call_inbound", 2), ("2:call_callback", 1), ("2:call_inbound", 1)]
    assert _nodes(matched) == [("1:call_inbound", 1), ("2:call_transfer", 1)]
    assert matched["total_customers"] == 1


def test_paths_into_low_sentiment_contacts(api_client, loaded):
    body = api_client.get("/api/journeys/paths", {"end_event": "call_callback", "steps": 2,
                                                  "sentiment_max": 0.5}).json()
    assert _nodes(body) == [("1:call_callback", 1), ("2:call_inbound", 1)]


def test_funnels_and_top_journeys_count_only_customers_with_a_matching_contact(api_client, loaded):
    funnel = api_client.get("/api/journeys/funnel", {"steps": "call_inbound,call_transfer",
                                                     "category": "Fees,Fraud"}).json()
    top = api_client.get("/api/journeys/top", {"steps": 2, "category": "Fees", "sentiment_min": 1}).json()
    assert [s["customers"] for s in funnel["steps"]] == [2, 1]
    assert [(j["steps"], j["customers"]) for j in top["journeys"]] == [(["call_inbound", "call_transfer"], 1)]


def test_an_unknown_category_or_a_bad_range_is_a_400_naming_it(api_client, loaded):
    unknown = api_client.get("/api/journeys/paths", {"start_event": "call_inbound", "category": "Cancelation"})
    reversed_range = api_client.get("/api/journeys/top", {"sentiment_min": 2, "sentiment_max": -2})
    beyond = api_client.get("/api/journeys/top", {"sentiment_min": -7})
    assert unknown.status_code == 400
    assert "unknown contact category(s) 'Cancelation'; known: Cancellation, Fees, Fraud, Refund" in str(unknown.json())
    assert reversed_range.json()["errors"] == [
        {"field": "sentiment_max", "code": "invalid", "detail": "must not be below sentiment_min"}]
    assert beyond.status_code == 400 and [e["field"] for e in beyond.json()["errors"]] == ["sentiment_min"]


def test_training_frames_carry_each_contacts_summary(loaded):
    frame = frames.events_frame(get_engine(), columns=("event_id", "sentiment_customer", "sentiment_change",
                                                       "categories"))
    rows = {r.event_id: (r.sentiment_customer, r.sentiment_change, r.categories) for r in frame.itertuples()}
    assert rows == {"c-voice-1": (1.2, 7.5, ["Cancellation", "Fees"]), "c-voice-2": (None, None, None),
                    "c-chat-1": (0.8, 7.5, ["Fees", "Refund"]), "c-abandon-1": (None, None, None),
                    "c-callback-1": (0.4, 5.0, ["Fraud"])}


def test_a_contact_analysed_again_counts_with_its_latest_summary_and_compaction_keeps_only_that(loaded):
    # given c-callback-1 analysed again with another category
    event_contacts.write_summaries([{"event_id": "c-callback-1", "customer_id": "phone:+61412000222",
                                     "sentiment_customer": -3.0, "sentiment_agent": 1.0,
                                     "sentiment_change": -1.0, "categories": ["Complaint"]}])
    assert get_engine().catalog()["category"] == ("Cancellation", "Complaint", "Fees", "Refund")
    # when the event store is compacted
    call_command("events_store", "compact")
    # then one contacts file holds each contact's latest row
    assert len(event_contacts.contact_files()) == 1
    table = event_contacts.read_contacts()
    assert table.column("event_id").to_pylist() == ["c-callback-1", "c-chat-1", "c-voice-1"]
    assert table.column("categories").to_pylist()[0] == ["Complaint"]


def test_the_explorer_filters_by_category_and_says_so_when_nothing_matches(analyst, with_earlier_call):
    page = analyst.get("/journeys/explorer/", {"event": "call_inbound", "category": "Cancellation"})
    html = page.content.decode()
    assert page.status_code == 200
    assert '<option value="Cancellation" selected>Cancellation</option>' in html
    assert "call_transfer" in html
    empty = analyst.get("/journeys/explorer/", {"event": "call_inbound", "sentiment_min": "4.5"}).content.decode()
    assert "No events match these filters (contact sentiment 4.5 to 5)" in empty
    bad = analyst.get("/journeys/explorer/", {"sentiment_max": "loud"}).content.decode()
    assert "sentiment_max: expected a number from -5 to 5, got &#x27;loud&#x27;" in bad


def test_the_path_drill_down_anchors_on_the_matching_contacts_as_the_paths_do(with_earlier_call):
    from apps.journeys import selectors as journeys

    matched = journeys.JourneyFilters(categories=("Cancellation",))
    at = {node: journeys.path_customers(nodes=[node], filters=matched, anchor="call_inbound", steps=2)
          for node in ("1:call_inbound", "2:call_transfer", "2:call_inbound")}
    unfiltered = journeys.path_customers(nodes=["2:call_inbound"], anchor="call_inbound", steps=2)
    assert at == {"1:call_inbound": ["cust-100"], "2:call_transfer": ["cust-100"], "2:call_inbound": []}
    assert unfiltered == ["cust-100"]
    channels = journeys.path_customers(nodes=["1:call_inbound@voice", "2:call_transfer@voice"], filters=matched,
                                       anchor="call_inbound@voice", steps=2, with_channel=True)
    assert channels == ["cust-100"]
