"""KPI cards on the overview and the embeddable widgets read the stored KPI values."""
from __future__ import annotations

from datetime import date
from html import escape

import pytest
from django.test import Client
from django.utils import timezone

from apps.ingest.services import ingest_records
from apps.journeys.models import KpiDefinition, KpiValue, MilestoneDefinition, MilestoneReach
from tests.dashboard import journeys_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def contacts_kpi() -> KpiDefinition:
    kpi = KpiDefinition.objects.create(name="Contacts per customer", slug="contacts", kind="contacts_per_customer")
    for day, value in ((1, 1.5), (2, 2.0), (3, 1.75)):
        KpiValue.objects.create(definition=kpi, period="day", period_start=date(2026, 3, day), value=value,
                                numerator=value * 4, denominator=4)
    KpiValue.objects.create(definition=kpi, period="day", period_start=date(2026, 3, 3), dimension="channel",
                            dimension_value="voice", value=9.0, numerator=9, denominator=1)
    return kpi


def test_the_widget_json_gives_latest_previous_change_and_points(viewer: Client, contacts_kpi):
    body = viewer.get("/widgets/contacts/?format=json").json()

    assert body == {"slug": "contacts", "name": "Contacts per customer", "unit": "", "period": "day",
                    "latest": 1.75, "previous": 2.0, "change": -0.25,
                    "points": [{"period_start": "2026-03-01", "value": 1.5},
                               {"period_start": "2026-03-02", "value": 2.0},
                               {"period_start": "2026-03-03", "value": 1.75}]}


def test_the_widget_can_show_one_channel(viewer: Client, contacts_kpi):
    body = viewer.get("/widgets/contacts/?format=json&dimension=channel&value=voice").json()

    assert (body["latest"], len(body["points"])) == (9.0, 1)


def test_the_widget_page_may_be_framed_by_an_agent_desktop(viewer: Client, contacts_kpi):
    response = viewer.get("/widgets/contacts/")

    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    html = response.content.decode()
    assert '<span class="value">1.75</span>' in html
    assert 'aria-label="Contacts per customer: 3 periods from 2026-03-01 (1.5) to 2026-03-03 (1.75)"' in html


def test_an_unknown_widget_is_a_404(viewer: Client):
    assert viewer.get("/widgets/nope/").status_code == 404


def test_the_overview_shows_each_kpi_with_its_trend(viewer: Client, contacts_kpi):
    """The data ends on 1 March, so 1, 2 and 3 March are not complete days: the latest complete day is
    shown with its trend, and the running period beside it as partial."""
    KpiValue.objects.create(definition=contacts_kpi, period="day", period_start=date(2026, 2, 27), value=1.2,
                            numerator=6, denominator=5)
    KpiValue.objects.create(definition=contacts_kpi, period="day", period_start=date(2026, 2, 28), value=1.333333,
                            numerator=4, denominator=3)
    journeys_data.load()  # events on 2026-03-01 only

    response = viewer.get("/?period=day")
    rows = viewer.get("/?period=day&format=csv").content.decode().splitlines()

    html = response.content.decode()
    assert response.status_code == 200
    assert '<span class="value">1.33</span>' in html
    assert '<span class="partial">2026-03-01 so far (partial): 1.5</span>' in html
    assert rows == ["Figure,Value,Note", "Events ingested,17,", "Customers,6,",
                    "Active customers (30 days),6,with an event in the 30 days to 2026-03-01 (the latest event)",
                    "Decisions today,0,",
                    "Contacts per customer,1.33,▲ +0.13 vs the day before (2026-02-27) · "
                    "2026-03-01 so far (partial): 1.5"]


def test_an_event_today_after_old_data_shows_what_active_means(viewer: Client):
    journeys_data.load()
    today = timezone.now()
    ingest_records(records=[{"customer_id": "c9", "event_id": "today-1", "event_type": "web_visit",
                             "channel": "web", "timestamp": today.isoformat()}], source="test")

    rows = viewer.get("/?format=csv").content.decode().splitlines()

    assert rows[3] == (f"Active customers (30 days),1,with an event in the 30 days to {today:%Y-%m-%d} "
                       "(the latest event)")


def test_customer_360_lists_the_milestones_reached(viewer: Client):
    journeys_data.load()
    dispute = MilestoneDefinition.objects.create(name="Card dispute raised", slug="dispute", trigger="event_type",
                                                 event_type="card_dispute_call")
    MilestoneReach.objects.create(milestone=dispute, customer_id="c1", ts=journeys_data.DAY0 + 121 * 60_000,
                                  event_id="c1-e3")

    html = viewer.get("/customers/c1/").content.decode()

    assert "<li>Card dispute raised <span class=\"muted\">2026-03-01 02:01:00</span></li>" in html


def test_a_rate_kpi_is_shown_in_percent(viewer: Client):
    kpi = KpiDefinition.objects.create(name="Repeat contact", slug="repeat", kind="repeat_contact", unit="%")
    KpiValue.objects.create(definition=kpi, period="week", period_start=date(2026, 3, 2), value=0.125,
                            numerator=1, denominator=8)

    body = viewer.get("/widgets/repeat/?period=week&format=json").json()
    html = viewer.get("/").content.decode()

    assert (body["latest"], body["unit"]) == (12.5, "%")
    assert '<span class="value">12.5%</span>' in html


def test_the_widget_list_csv_gives_each_kpi_with_its_urls(viewer: Client, contacts_kpi):
    rows = viewer.get("/widgets/?period=day&format=csv").content.decode().splitlines()

    assert rows == ["KPI,Latest value,Periods stored,Widget URL,JSON URL",
                    "Contacts per customer,1.75,3,http://testserver/widgets/contacts/?period=day,"
                    "http://testserver/widgets/contacts/?period=day&format=json"]


def test_kpi_figures_are_rounded_in_cards_labels_and_tables(viewer: Client):
    kpi = KpiDefinition.objects.create(name="Time to resolution", slug="ttr", kind="time_to_resolution", unit="h")
    for day, value in ((1, 107.640041), (2, 249.980041)):
        KpiValue.objects.create(definition=kpi, period="day", period_start=date(2026, 3, day), value=value,
                                numerator=value, denominator=1)

    widget = viewer.get("/widgets/ttr/").content.decode()
    listing = viewer.get("/widgets/").content.decode()

    assert '<span class="value">249.98h</span>' in widget
    assert 'aria-label="Time to resolution: 2 periods from 2026-03-01 (107.64) to 2026-03-02 (249.98)"' in widget
    assert ">249.98</td>" in listing
    assert "249.980041" not in widget + listing


@pytest.mark.parametrize(("query", "field", "message"), [
    ("period=fortnight", "period", "period: must be one of day, week, got 'fortnight'"),
    ("dimension=queue&value=billing", "dimension", "dimension: must be one of all, channel, segment, got 'queue'"),
    ("dimension=channel", "value", "value: name the channel to show"),
    ("value=voice", "value", "value: 'voice' needs a dimension (channel or segment) to belong to"),
])
def test_a_widget_asked_with_a_parameter_out_of_its_choices_is_refused_by_name(viewer: Client, contacts_kpi, query,
                                                                                field, message):
    problem = viewer.get(f"/widgets/contacts/?{query}&format=json")
    page = viewer.get(f"/widgets/contacts/?{query}")

    assert (problem.status_code, problem["Content-Type"]) == (400, "application/problem+json")
    assert (problem.json()["detail"], problem.json()["errors"]) == (
        message, [{"field": field, "detail": message.split(": ", 1)[1], "code": "invalid"}])
    assert page.status_code == 400
    assert f'<p class="error" role="alert">{escape(message)}</p>' in page.content.decode()


def test_a_widget_format_other_than_html_or_json_is_refused(viewer: Client, contacts_kpi):
    response = viewer.get("/widgets/contacts/?format=xml")

    assert response.status_code == 400
    assert escape("format: must be one of html, json, got 'xml'") in response.content.decode()


def test_a_widget_for_a_channel_with_no_values_names_the_channels_that_have_some(viewer: Client, contacts_kpi):
    problem = viewer.get("/widgets/contacts/?dimension=channel&value=fax&format=json")
    weekly = viewer.get("/widgets/contacts/?dimension=channel&value=voice&period=week&format=json")

    assert problem.status_code == 404
    assert problem.json()["detail"] == ("value: 'contacts' has no values stored per day for channel 'fax' "
                                        "(stored: voice)")
    assert weekly.json()["detail"] == ("value: 'contacts' has no values stored per week for channel 'voice' "
                                       "(stored: none)")


def test_a_page_asked_for_an_unknown_period_says_so_and_shows_the_default(viewer: Client, contacts_kpi):
    overview = viewer.get("/?period=century").content.decode()
    listing = viewer.get("/widgets/?period=fortnight").content.decode()

    assert escape("period: must be one of day, week, got 'century'; showing period=week") in overview
    assert escape("period: must be one of day, week, got 'fortnight'; showing period=day") in listing
    assert "http://testserver/widgets/contacts/?period=day" in listing
