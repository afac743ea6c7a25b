"""Each live page through the Django test client: the numbers it shows, its CSV, and who may act."""
from __future__ import annotations

import csv
import io
import json
import re
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from prometheus_client import REGISTRY

from apps.customers import services as customer_services
from apps.decisions.models import DecisionLog
from apps.ingest.models import IngestBatch
from apps.ingest.services import ingest_records
from apps.propensity import registry
from apps.propensity.models import ModelVersion
from graph import journeys
from tests.dashboard import journeys_data

pytestmark = pytest.mark.django_db

BAD_ROW_CSV = (
    "customer_id,event_id,event_type,channel,timestamp\n"
    "u1,u1-a,web_visit,web,2026-03-02T09:00:00Z\n"
    ",u9-a,web_visit,web,2026-03-02T09:05:00Z\n"
    "u1,u1-b,card_dispute_call,voice,2026-03-02T10:00:00Z\n"
)


def figure_of(html: str, chart_id: str) -> dict:
    found = re.search(rf'<script id="{chart_id}-data" type="application/json">(.*?)</script>', html, re.S)
    assert found, chart_id
    return json.loads(found.group(1))


def rows_of(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_an_analyst_uploads_a_file_and_the_bad_row_is_quarantined_with_its_reason(analyst: Client):
    upload = SimpleUploadedFile("calls.csv", BAD_ROW_CSV.encode(), content_type="text/csv")

    response = analyst.post("/ingest/upload/", {"file": upload, "format": "csv"})

    batch = IngestBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/ingest/batches/{batch.pk}/"
    assert (batch.rows_read, batch.loaded, batch.quarantined) == (3, 2, 1)
    assert batch.source == "upload:calls.csv"
    page = analyst.get(response["Location"]).content.decode()
    assert '<span class="value" data-count="quarantined">1</span>' in page
    assert "no customer key: needs customer_id or an identifier (phone, email, account_id)" in page


def test_a_running_batch_shows_its_progress_and_the_list_refreshes_itself(viewer: Client):
    IngestBatch.objects.create(source="s3://bucket/big.csv", format="csv", rows_read=500, loaded=480,
                               bytes_total=1000, bytes_read=250)

    html = viewer.get("/ingest/").content.decode()
    rows = rows_of(viewer.get("/ingest/?format=csv"))

    assert 'hx-trigger="every 3s"' in html
    assert rows[1][1:7] == ["s3://bucket/big.csv", "csv", "running", "25", "500", "480"]


def test_a_viewer_may_not_upload(viewer: Client):
    upload = SimpleUploadedFile("calls.csv", BAD_ROW_CSV.encode(), content_type="text/csv")

    refused = viewer.post("/ingest/upload/", {"file": upload})

    assert refused.status_code == 403
    assert "this needs the analyst role." in refused.content.decode()
    assert IngestBatch.objects.count() == 0
    assert "Upload a file" not in viewer.get("/ingest/").content.decode()


def test_an_upload_with_an_unknown_format_is_refused_with_a_clear_message(analyst: Client):
    upload = SimpleUploadedFile("calls.xlsx", b"x", content_type="application/octet-stream")

    response = analyst.post("/ingest/upload/", {"file": upload}, follow=True)

    assert ("upload: format must be one of csv, json, ndjson, ctr, contact-lens, transcript, got &#x27;xlsx&#x27; "
            "(calls.xlsx)") in \
        response.content.decode()


def test_the_quarantine_csv_lists_each_bad_row_with_its_reason(analyst: Client):
    analyst.post("/ingest/upload/", {"file": SimpleUploadedFile("calls.csv", BAD_ROW_CSV.encode()), "format": "csv"})
    batch = IngestBatch.objects.get()

    response = analyst.get("/ingest/?format=csv&table=quarantine")

    assert rows_of(response) == [
        ["Batch", "Row", "Reason", "Row content"],
        [str(batch.pk), "2", "no customer key: needs customer_id or an identifier (phone, email, account_id)",
         "customer_id=, event_id=u9-a, event_type=web_visit, channel=web, timestamp=2026-03-02T09:05:00Z"],
    ]


def test_customer_360_shows_the_cross_channel_timeline_and_identifiers(viewer: Client, analyst: Client):
    journeys_data.load()

    response = viewer.get("/customers/c1/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<span class="value">3</span><span class="label">Events</span>' in html
    assert "+61412345001" not in html and "[redacted]" in html  # personal data: analysts and admins
    assert "+61412345001" in analyst.get("/customers/c1/").content.decode()
    timeline = rows_of(viewer.get("/customers/c1/?format=csv&table=timeline"))
    assert timeline == [
        ["Time (UTC)", "Channel", "Event", "Intent", "Outcome", "Event id"],
        ["2026-03-01 00:01:00", "web", "web_visit", "", "", "c1-e1"],
        ["2026-03-01 01:01:00", "app", "app_login", "", "", "c1-e2"],
        ["2026-03-01 02:01:00", "voice", "card_dispute_call", "", "", "c1-e3"],
    ]


def test_customer_360_shows_the_likeliest_next_events(viewer: Client, tmp_path):  # type: ignore[no-untyped-def]
    from django.core.management import call_command

    from apps.propensity import registry

    journeys_data.load()
    html = viewer.get("/customers/c1/").content.decode()
    assert "no active next_event model; run `manage.py train next_event`" in html
    # given a next_event model trained on journeys of these three steps in this order
    rows = [f"k{n},k{n}-{i},{t},web,{1_700_000_000_000 + n * 10_000_000 + i * 60_000}"
            for n in range(40) for i, t in enumerate(["web_visit", "app_login", "card_dispute_call"])]
    log = tmp_path / "log.csv"
    log.write_text("customer_id,event_id,event_type,channel,timestamp\n" + "\n".join(rows) + "\n")
    call_command("train", "next_event", "--data", str(log), verbosity=0)
    registry.activate(name="next_event", version=1)  # the baselines are as perfect as the model here
    registry.clear_cache()

    html = viewer.get("/customers/c1/").content.decode()

    # then c1, whose journey ends with the call, is shown the end of the journey first
    listed = html.split('data-section="next-events"', 1)[1].split("</ol>", 1)[0]
    assert listed.count("<li ") == 3
    assert '<li data-event="end">the journey ends (' in listed.split("</li>", 1)[0]
    assert "next_event v1 after card_dispute_call" in html


def test_customer_360_speaks_in_words_with_the_codes_on_hover(viewer: Client):
    ingest_records(records=[{"customer_id": "c7", "event_id": "c7-call", "event_type": "call_home_loan",
                             "channel": "voice", "timestamp": "2026-03-01T05:00:00Z", "intent": "HL_AS"}],
                   source="t")
    _log("intent", "k7", {"intent": "CC_AA", "action": "suggest", "confidence": 0.7,
                          "alternatives": [{"intent": "FR_DS", "confidence": 0.2}]}, 3.0)
    DecisionLog.objects.filter(contact_id="k7").update(customer_id="c7")

    html = viewer.get("/customers/c7/").content.decode()
    timeline = rows_of(viewer.get("/customers/c7/?format=csv&table=timeline"))

    assert '<span title="call_home_loan">Call home loan</span>' in html
    assert '<span title="HL_AS">Home loan (AS)</span>' in html
    assert '<span title="CC_AA">Credit card (AA)</span>' in html
    assert '<span title="FR_DS">Fraud dispute (DS)</span>' in html
    assert timeline[1][2:4] == ["call_home_loan", "HL_AS"]  # the CSV keeps the codes


def test_a_model_whose_file_is_missing_leaves_customer_360_standing_and_says_what_to_do(viewer: Client):
    journeys_data.load()
    _version("churn", 1, False)  # its artifact /x/churn1 does not exist
    registry.activate(name="churn", version=1, user=None)  # through the registry, as an admin would

    response = viewer.get("/customers/c1/")

    assert response.status_code == 200
    assert ("An active model&#x27;s file could not be read (artifact not found: /x/churn1). Activate another "
            "version on the Models page, or train the model again.") in response.content.decode()


@pytest.mark.parametrize(("feature", "value", "text"), [
    ("tenure_days", 1998.0590240856482, "Tenure: 1,998 days (5.5 years)"),
    ("days_since_last_hours", 5.25, "Days since last: 5.2 h"),
    ("repeat_contact_rate", 0.125, "Repeat contact rate: 12%"),
    ("calls", 3.0, "Calls: 3"),
    ("mean_gap", 2.71828, "Mean gap: 2.72"),
])
def test_score_reasons_are_words_with_rounded_values_and_units(feature: str, value: float, text: str):
    from apps.dashboard.labels import reason

    assert reason(feature, value) == text


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_customer_is_a_designed_404_page_even_with_debug_on(viewer: Client, settings, debug: bool):
    settings.DEBUG = debug

    response = viewer.get("/customers/nobody/")

    html = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in html and "No customer &#x27;nobody&#x27;." in html
    assert '<nav aria-label="Main" class="main-nav">' in html
    assert '<form method="get" action="/customers/"' in html
    assert "URLconf" not in html and "Using the URLconf" not in html


def test_an_unknown_batch_and_kpi_widget_are_designed_404_pages(viewer: Client, settings):
    settings.DEBUG = True

    for url, text in [("/ingest/batches/999/", "No ingest batch 999."),
                      ("/widgets/nope/", "No active KPI &#x27;nope&#x27;.")]:
        response = viewer.get(url)
        assert (response.status_code, text in response.content.decode()) == (404, True), url


@pytest.mark.parametrize("query", ["phone:+61412345002", "+61 412 345 002", "0412 345 002", "(04) 1234-5002"])
def test_searching_by_phone_as_people_type_it_goes_straight_to_the_customer(viewer: Client, query: str):
    journeys_data.load()

    response = viewer.get("/customers/", {"q": query})

    assert (response.status_code, response["Location"]) == (302, "/customers/c2/")


def test_searching_by_email_or_name_finds_the_customer(viewer: Client):
    journeys_data.load()
    ingest_records(records=[{"customer_id": "c3", "event_id": "c3-mail", "event_type": "email", "channel": "email",
                             "timestamp": "2026-03-01T05:00:00Z", "email": "Mia.Brown@Example.com"}], source="t")
    customer_services.set_attributes({"c4": {"name": "Olivia Smith"}})

    by_email = viewer.get("/customers/", {"q": "mia.brown@example.com"})
    by_name = viewer.get("/customers/", {"q": "olivia"})

    assert (by_email.status_code, by_email["Location"]) == (302, "/customers/c3/")
    assert (by_name.status_code, by_name["Location"]) == (302, "/customers/c4/")


def test_a_search_that_finds_nobody_says_what_was_tried(viewer: Client):
    journeys_data.load()

    html = viewer.get("/customers/", {"q": "+61 499 999 999"}).content.decode()

    assert "No customer with phone +61499999999, id or name &#x27;+61 499 999 999&#x27;." in html


def test_customer_list_shows_name_last_seen_events_and_channels_a_page_at_a_time(viewer: Client):
    journeys_data.load()
    journeys.set_customer_attributes("c1", {"name": "Olivia Smith"})
    journeys.get_g().V("customer:c1").property("churn_score", 0.4213).property("csat_low_score", 0.1).iterate()

    rows = rows_of(viewer.get("/customers/?format=csv"))
    second_page = rows_of(viewer.get("/customers/?format=csv&offset=4&limit=2"))

    assert rows[0] == ["Customer", "Name", "Status", "Last seen (UTC)", "Events", "Channels", "Scores"]
    assert rows[1] == ["c1", "Olivia Smith", "active", "2026-03-01 02:01", "3", "app 1, voice 1, web 1",
                       "churn 0.42, csat low 0.10"]
    assert [r[0] for r in rows[1:]] == ["c1", "c2", "c3", "c4", "c5", "c6"]
    assert [r[0] for r in second_page[1:]] == ["c5", "c6"]


def graph_calls() -> float:
    return REGISTRY.get_sample_value("journeyhub_graph_call_seconds_count",
                                     {"backend": "embedded", "outcome": "ok"}) or 0.0


def graph_calls_of(client: Client, url: str) -> int:
    before = graph_calls()
    assert client.get(url).status_code == 200, url
    return int(graph_calls() - before)


def test_a_customer_list_page_reads_the_graph_once_however_many_rows_it_shows(viewer: Client):
    """Given the data's end already read (it is kept a few seconds), when a page of 1, 2 or 6
    customers is listed, then one graph read brings every row: name, status, last seen, events,
    channels and scores; a search by name adds only the check whether the text is a customer id."""
    journeys_data.load()
    customer_services.set_attributes({"c1": {"name": "Ann Lee"}, "c2": {"name": "Ann Moss"}})
    viewer.get("/customers/?limit=1")

    reads = {url: graph_calls_of(viewer, url) for url in [
        "/customers/?limit=1", "/customers/?limit=2", "/customers/", "/customers/?q=ann"]}

    assert reads == {"/customers/?limit=1": 1, "/customers/?limit=2": 1, "/customers/": 1, "/customers/?q=ann": 2}


def test_a_search_finding_many_customers_is_paged_and_the_pages_keep_the_search(viewer: Client):
    journeys_data.load()
    customer_services.set_attributes({"c2": {"name": "Ann Lee"}, "c4": {"name": "Ann Moss"},
                                      "c5": {"name": "Anna Kay"}})

    first = viewer.get("/customers/", {"q": "ann", "limit": "2"}).content.decode()
    second = viewer.get("/customers/", {"q": "ann", "limit": "2", "offset": "2"}).content.decode()

    assert "Customers 1–2 of 3 matching ann" in first
    assert 'aria-describedby="f-q-hint"' in first and "A name by the start of its words" in first
    assert re.findall(r'href="/customers/(c\d)/"', first) == ["c2", "c4"]
    assert 'href="/customers/?q=ann&amp;limit=2&amp;offset=2" rel="next"' in first
    assert "Customers 3–3 of 3 matching ann" in second
    assert re.findall(r'href="/customers/(c\d)/"', second) == ["c5"]
    assert 'href="/customers/?q=ann&amp;limit=2&amp;offset=0" rel="prev"' in second and 'rel="next"' not in second


def test_customer_360_header_names_the_customer_and_says_they_churned(viewer: Client):
    journeys_data.load()
    journeys.set_customer_attributes("c1", {"name": "Olivia Smith", "segment": "young professional"})
    ingest_records(records=[{"customer_id": "c1", "event_id": "c1-gone", "event_type": "churned",
                             "channel": "web", "timestamp": "2026-03-01T06:00:00Z"}], source="t")

    html = viewer.get("/customers/c1/").content.decode()

    assert '<h1>Olivia Smith <span class="muted">customer c1</span> <span class="badge bad">churned</span></h1>' in html


def _log(kind: str, contact: str, output: dict, latency: float, **inputs) -> DecisionLog:  # type: ignore[no-untyped-def]
    return DecisionLog.objects.create(kind=kind, contact_id=contact, customer_id="c1", channel="VOICE",
                                      inputs=inputs, output=output, model_version="intent v1", latency_ms=latency)


def test_decision_monitor_shows_mix_latency_and_feedback_accuracy(viewer: Client):
    _log("intent", "k1", {"intent": "card_dispute", "action": "confirm", "confidence": 0.9,
                          "alternatives": [{"intent": "loan"}]}, 4.0)
    _log("intent", "k2", {"intent": "loan", "action": "suggest", "confidence": 0.7,
                          "alternatives": [{"intent": "card_dispute"}]}, 6.0)
    _log("risk", "k3", {"score": 900, "outcome": "pass_to_skilled_agent"}, 8.0)
    _log("feedback", "k1", {}, 1.0, intent="card_dispute")
    _log("feedback", "k2", {}, 1.0, intent="card_dispute")

    html = viewer.get("/decisions/").content.decode()
    summary = rows_of(viewer.get("/decisions/?format=csv&table=summary"))

    assert summary == [["Kind", "Decisions", "Latency p50 ms", "Latency p99 ms", "Action / outcome mix"],
                       ["intent", "2", "5", "5.98", "confirm 1, suggest 1"],
                       ["risk", "1", "8", "8", "pass_to_skilled_agent 1"]]
    assert '<span class="value">50%</span><span class="label">Predicted intent confirmed (top 1, 1 of 2)' in html
    assert '<span class="value">100%</span><span class="label">Confirmed intent in our top 3 (2 of 2)' in html
    recent = rows_of(viewer.get("/decisions/?format=csv&kind=risk"))
    assert [r[1:3] + r[5:7] for r in recent[1:]] == [["risk", "k3", "pass_to_skilled_agent", "900"]]


def test_decision_monitor_filters_apply_to_the_cards_the_summary_and_the_charts(viewer: Client):
    _log("intent", "k1", {"intent": "card_dispute", "action": "confirm", "confidence": 0.9}, 4.0)
    _log("feedback", "k1", {}, 1.0, intent="card_dispute")
    chat = DecisionLog.objects.create(kind="intent", contact_id="k9", customer_id="c2", channel="CHAT",
                                      output={"intent": "loan", "action": "suggest"}, latency_ms=2.5)

    html = viewer.get("/decisions/?channel=chat").content.decode()
    summary = rows_of(viewer.get("/decisions/?format=csv&table=summary&channel=chat"))

    assert summary[1:] == [["intent", "1", "2.5", "2.5", "suggest 1"]]
    assert '<p class="card kpi" data-card="feedback"><span class="value">0</span>' in html
    day = chat.created.date().isoformat()
    traces = figure_of(html, "mix-intent")["data"]
    assert [(t["name"], t["x"], t["y"]) for t in traces] == [("suggest", [day], [1])]
    risk_only = rows_of(viewer.get("/decisions/?format=csv&table=summary&kind=risk"))
    assert risk_only[1:] == []


def test_a_filter_outside_its_choices_says_so_and_the_page_shows_what_it_shows_instead(viewer: Client):
    _log("intent", "k1", {"intent": "card_dispute", "action": "confirm", "confidence": 0.9}, 4.0)
    _log("risk", "k3", {"score": 900, "outcome": "pass_to_skilled_agent"}, 8.0)
    _version("churn", 1, True, auc=0.8125)
    _version("csat", 1, True, auc=0.7)

    decisions = viewer.get("/decisions/?kind=risks&days=0")
    ingest = viewer.get("/ingest/?status=done").content.decode()
    models = viewer.get("/models/?name=chrun").content.decode()

    html = decisions.content.decode()
    assert decisions.status_code == 200
    assert '<p class="error" role="alert">days: must be between 1 and 365, got 0; showing days=7</p>' in html
    assert ('<p class="error" role="alert">kind: must be one of intent, risk, feedback, got &#x27;risks&#x27;; '
            'showing every kind</p>') in html
    # every kind is shown, as it said
    assert [r[1] for r in rows_of(viewer.get("/decisions/?format=csv&kind=risks"))[1:]] == ["risk", "intent"]
    assert ("status: must be one of running, completed, failed, interrupted, got &#x27;done&#x27;; showing "
            "batches of any status") in ingest
    assert "name: must be one of churn, csat, got &#x27;chrun&#x27;; showing every model" in models
    assert 'aria-labelledby="model-churn"' in models and 'aria-labelledby="model-csat"' in models
    ModelVersion.objects.all().delete()
    assert ("name: nothing to choose from yet, got &#x27;chrun&#x27;; showing every model"
            in viewer.get("/models/?name=chrun").content.decode())


def test_customer_360_shows_the_latest_intent_and_risk_decision(viewer: Client):
    journeys_data.load()
    _log("intent", "k1", {"intent": "card_dispute", "action": "confirm", "confidence": 0.91, "alternatives": []}, 4.0)

    html = viewer.get("/customers/c1/").content.decode()

    assert '<span title="card_dispute">Card dispute</span> (0.91 confidence, action <strong>confirm</strong>)' in html
    assert "no risk decision for this customer yet" in html


def _version(name: str, number: int, active: bool, **metrics) -> ModelVersion:  # type: ignore[no-untyped-def]
    return ModelVersion.objects.create(name=name, version=number, artifact=f"/x/{name}{number}", sha256="0" * 64,
                                       metrics=metrics, baseline_metrics={"auc": 0.5}, is_active=active)


def test_models_page_lists_metrics_beside_the_baseline(viewer: Client):
    _version("churn", 1, True, auc=0.8125, roc={"fpr": [0, 0.5, 1], "tpr": [0, 0.9, 1]})

    response = viewer.get("/models/?format=csv")
    html = viewer.get("/models/").content.decode()

    assert rows_of(response)[1][:7] == ["churn", "1", "active", "auc", "0.8125", "0.5", "0.3125"]
    assert 'aria-label="ROC curve of churn v1"' in html
    assert "Roll back" not in html


def test_figures_on_pages_are_rounded_and_the_csv_keeps_precision(viewer: Client):
    _version("csat", 1, True, auc=0.81234567, mae=249.980041)

    html = viewer.get("/models/").content.decode()
    rows = rows_of(viewer.get("/models/?format=csv"))

    assert ">249.98</td>" in html and ">0.8123</td>" in html
    assert "249.980041" not in html and "0.81234567" not in html
    assert [r[3:5] for r in rows[1:]] == [["auc", "0.8123"], ["mae", "249.98"]]


def test_nested_metrics_sit_beside_a_named_baseline_and_rule_thresholds_draw_a_roc(viewer: Client):
    ModelVersion.objects.create(
        name="risk", version=1, artifact="/x/risk1", sha256="0" * 64, is_active=True,
        metrics={"auc": 0.9, "variant": "call_time",
                 "at_thresholds": [{"threshold": 200, "tpr": 0.9, "fpr": 0.3}, {"threshold": 800, "tpr": 0.5,
                                                                                "fpr": 0.05}]},
        baseline_metrics={"prior": {"auc": 0.5, "at_thresholds": [{"threshold": 200, "tpr": 1.0, "fpr": 1.0},
                                                                  {"threshold": 800, "tpr": 0.0, "fpr": 0.0}]}})

    rows = rows_of(viewer.get("/models/?format=csv"))
    html = viewer.get("/models/").content.decode()

    assert [r[3:7] + r[7:8] for r in rows[1:]] == [
        ["at_thresholds@200.fpr", "0.3", "1", "-0.7", "prior"], ["at_thresholds@200.tpr", "0.9", "1", "-0.1", "prior"],
        ["at_thresholds@800.fpr", "0.05", "0", "0.05", "prior"], ["at_thresholds@800.tpr", "0.5", "0", "0.5", "prior"],
        ["auc", "0.9", "0.5", "0.4", "prior"]]
    assert 'aria-label="ROC curve of risk v1"' in html
    assert "<li>variant: call_time</li>" in html


def test_an_active_model_that_does_not_beat_its_baseline_is_marked(viewer: Client):
    # given two active models: one above its baseline, one level with it (activated by hand past the gate)
    _version("churn", 1, True, auc=0.8125)
    _version("csat", 1, True, auc=0.5)

    html = unescape(viewer.get("/models/").content.decode())

    # then only the second carries the mark, with the gate's reason
    assert html.count('data-gate="fails"') == 1
    assert ("Activation gate: auc 0.5000 does not beat the baseline baseline's 0.5000 by the margin 0.001 "
            "(difference +0.0000). Decisions do not use this version") in html
    assert "auc 0.8125 beats the baseline baseline" in html


def test_only_an_admin_may_activate_a_model_version(viewer: Client, admin_client_: Client):
    _version("churn", 1, False)
    _version("churn", 2, True)

    refused = viewer.post("/models/churn/activate/", {"version": "1"})
    done = admin_client_.post("/models/churn/activate/", {"version": "1"})

    assert refused.status_code == 403
    assert done.status_code == 302
    assert list(ModelVersion.objects.filter(is_active=True).values_list("version", flat=True)) == [1]
    assert "Roll back" in admin_client_.get("/models/").content.decode()


def test_an_unknown_csv_table_is_a_clear_400(viewer: Client):
    response = viewer.get("/ingest/?format=csv&table=nope")

    assert response.status_code == 400
    assert response.content.decode() == "unknown table 'nope'; this page has: batches, quarantine, jobs"


def test_customer_360_predicts_intent_and_risk_without_writing_the_decision_log(viewer: Client):
    journeys_data.load()

    html = viewer.get("/customers/c1/").content.decode()

    intent = html.split('data-field="predicted-intent">', 1)[1].split("</dd>", 1)[0]
    risk = html.split('data-field="predicted-risk">', 1)[1].split("</dd>", 1)[0]
    assert intent.startswith("unknown (0.0 confidence, action <strong>menu</strong>)")
    assert "no active intent model" in intent
    assert risk.startswith("score 100 → <strong>pass_to_bot</strong>")
    assert "no active risk model: the rules decide alone (0 points)" in risk
    assert DecisionLog.objects.count() == 0


def test_every_page_names_an_icon_that_is_served(viewer: Client):
    from django.contrib.staticfiles import finders

    html = viewer.get("/customers/").content.decode()
    redirect = viewer.get("/favicon.ico")

    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    assert (redirect.status_code, redirect["Location"]) == (301, "/static/favicon.svg")
    assert finders.find("favicon.svg")
