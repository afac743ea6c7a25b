"""Each live page through the Django test client: the numbers it shows, its CSV, and who may act."""
from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.decisions.models import DecisionLog
from apps.ingest.models import IngestBatch
from apps.propensity.models import ModelVersion
from tests.dashboard import journeys_data

pytestmark = pytest.mark.django_db

BAD_ROW_CSV = (
    "customer_id,event_id,event_type,channel,timestamp\n"
    "u1,u1-a,web_visit,web,2026-03-02T09:00:00Z\n"
    ",u9-a,web_visit,web,2026-03-02T09:05:00Z\n"
    "u1,u1-b,card_dispute_call,voice,2026-03-02T10:00:00Z\n"
)


def rows_of(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_an_analyst_uploads_a_file_and_the_bad_row_is_quarantined_with_its_reason(analyst: Client):
    upload = SimpleUploadedFile("calls.csv", BAD_ROW_CSV.encode(), content_type="text/csv")

    response = analyst.post("/ingest/upload/", {"file": upload, "format": "csv"})

    batch = IngestBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/ingest/batches/{batch.pk}/"
    assert (batch.rows_read, batch.loaded, batch.quarantined) == (3, 2, 1)
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

    assert "upload: format must be one of csv, json, ndjson, got &#x27;xlsx&#x27; (calls.xlsx)" in \
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


def test_customer_360_shows_the_cross_channel_timeline_and_identifiers(viewer: Client):
    journeys_data.load()

    response = viewer.get("/customers/c1/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<span class="value">3</span><span class="label">Events</span>' in html
    assert "+61412345001" in html
    timeline = rows_of(viewer.get("/customers/c1/?format=csv&table=timeline"))
    assert timeline == [
        ["Time (UTC)", "Channel", "Event", "Intent", "Outcome", "Event id"],
        ["2026-03-01 00:01:00", "web", "web_visit", "", "", "c1-e1"],
        ["2026-03-01 01:01:00", "app", "app_login", "", "", "c1-e2"],
        ["2026-03-01 02:01:00", "voice", "card_dispute_call", "", "", "c1-e3"],
    ]


def test_an_unknown_customer_is_a_404(viewer: Client):
    response = viewer.get("/customers/nobody/")

    assert response.status_code == 404
    assert "no customer &#x27;nobody&#x27;" in response.content.decode()


def test_searching_by_phone_goes_straight_to_the_customer(viewer: Client):
    journeys_data.load()

    response = viewer.get("/customers/", {"q": "phone:+61412345002"})

    assert (response.status_code, response["Location"]) == (302, "/customers/c2/")


def test_customer_list_csv_has_every_customer_in_id_order(viewer: Client):
    journeys_data.load()

    assert rows_of(viewer.get("/customers/?format=csv")) == [["Customer"], ["c1"], ["c2"], ["c3"], ["c4"], ["c5"],
                                                             ["c6"]]


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


def test_customer_360_shows_the_latest_intent_and_risk_decision(viewer: Client):
    journeys_data.load()
    _log("intent", "k1", {"intent": "card_dispute", "action": "confirm", "confidence": 0.91, "alternatives": []}, 4.0)

    html = viewer.get("/customers/c1/").content.decode()

    assert "card_dispute (0.91 confidence, action <strong>confirm</strong>)" in html
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
    assert risk.startswith("score 600 → <strong>pass_to_agent</strong>")
    assert "no active risk model: neutral score (500 points)" in risk
    assert DecisionLog.objects.count() == 0
