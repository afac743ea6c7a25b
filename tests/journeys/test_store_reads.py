"""Analyses read the event store through the analytics engine: the same answers as from the graph,
fresh as soon as a file lands, and a clear error for a name no event carries."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from apps.journeys.models import MilestoneDefinition
from tests.dashboard.conftest import client_for
from tests.events.store_files import write_events
from tests.journeys.conftest import JOURNEYS, MIN, make_frame
from tests.problems import field_errors


@pytest.fixture
def store_with_journeys(settings, tmp_path):  # type: ignore[no-untyped-def]
    """The hand-built set in the event store only (the graph stays empty)."""
    settings.EVENTS_STORE_URL = str(tmp_path / "events-store")
    write_events(Path(settings.EVENTS_STORE_URL), make_frame(JOURNEYS))


@pytest.mark.usefixtures("store_with_journeys")
def test_the_api_answers_from_the_event_store(api_client):
    top = api_client.get("/api/journeys/top", {"steps": 3, "limit": 2}).json()
    dfg = api_client.get("/api/journeys/dfg").json()
    funnel = api_client.get("/api/journeys/funnel", {"steps": "web_visit,call,purchase"}).json()

    assert top["total_customers"] == 6
    assert top["journeys"][0] == {"steps": ["web_visit", "call", "purchase"], "customers": 2, "share": 0.333333,
                                  "median_duration_ms": 75 * MIN}
    assert dfg["edges"][:2] == [{"source": "call", "target": "purchase", "count": 2},
                                {"source": "web_visit", "target": "call", "count": 2}]
    assert [s["customers"] for s in funnel["steps"]] == [5, 3, 2]


@pytest.mark.usefixtures("store_with_journeys")
def test_a_new_file_in_the_store_is_seen_by_the_next_question(api_client):
    before = api_client.get("/api/journeys/dfg").json()
    write_events(Path(settings.EVENTS_STORE_URL) / "later", make_frame([("c7", 5, "chat", "chat", None),
                                                                        ("c7", 9, "purchase", "web", None)]))
    later = Path(settings.EVENTS_STORE_URL) / "later" / "events"
    for folder in later.iterdir():  # the same layout: one more file in an existing day's folder
        for file in folder.iterdir():
            file.rename(Path(settings.EVENTS_STORE_URL) / "events" / folder.name / f"later-{file.name}")

    after = api_client.get("/api/journeys/dfg").json()

    assert ("chat", "purchase") not in {(e["source"], e["target"]) for e in before["edges"]}
    assert {"source": "chat", "target": "purchase", "count": 1} in after["edges"]


@pytest.mark.usefixtures("store_with_journeys")
@pytest.mark.parametrize("path,params,field,message", [
    ("/api/journeys/paths", {"start_event": "purchse"}, "start_event",
     "unknown event type(s) 'purchse'; known: call, chat, purchase, web_visit"),
    ("/api/journeys/paths", {"end_event": "call@fax", "with_channel": "true"}, "end_event",
     "unknown event channel(s) 'fax'; known: app, chat, phone, web"),
    ("/api/journeys/paths", {"start_event": "call", "with_channel": "true"}, "start_event",
     "with channels, events are named type@channel; got 'call'"),
    ("/api/journeys/funnel", {"steps": "web_visit,purchse"}, "steps",
     "unknown event type(s) 'purchse'; known: call, chat, purchase, web_visit"),
    ("/api/journeys/funnel/customers", {"steps": "web_visit,purchse", "step": 1}, "steps",
     "unknown event type(s) 'purchse'; known: call, chat, purchase, web_visit"),
    ("/api/journeys/top", {"channel": "fax"}, "channel",
     "unknown event channel(s) 'fax'; known: app, chat, phone, web"),
    ("/api/journeys/dfg", {"milestone": "vip"}, "milestone", "unknown milestone 'vip'; known: purchase"),
])
def test_a_name_no_event_carries_is_a_400_naming_the_parameter(api_client, path, params, field, message):
    MilestoneDefinition.objects.create(name="Purchase", slug="purchase", trigger="event_type", event_type="purchase")

    response = api_client.get(path, params)

    assert field_errors(response) == {field: [message]}
    assert response.json()["detail"] == f"{field}: {message}"


@pytest.mark.usefixtures("store_with_journeys")
def test_the_dashboard_shows_an_unknown_event_as_a_message(db):
    viewer = client_for("vera", "viewer")

    explorer = viewer.get("/journeys/explorer/", {"event": "purchse"})
    unknown_channel = viewer.get("/journeys/explorer/", {"channel": "fax"})

    assert explorer.status_code == 200
    assert "No customer has the event &#x27;purchse&#x27; for these filters" in explorer.content.decode()
    assert unknown_channel.status_code == 200
    assert "unknown event channel(s) &#x27;fax&#x27;" in unknown_channel.content.decode()
