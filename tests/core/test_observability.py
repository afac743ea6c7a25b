"""Metrics for scrapers and request ids in logs: what an operator running the hub relies on."""
from __future__ import annotations

import json
import logging
import logging.config

import pytest
from django.contrib.auth.models import User
from prometheus_client import REGISTRY

from apps.core import observability
from apps.propensity.models import TrainingRun

pytestmark = pytest.mark.django_db


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_request_carries_its_callers_id_into_the_log_and_back(api_client, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    bad = {"event_id": "r1", "event_type": "call", "channel": "voice", "timestamp": "2026-02-01T00:00:00Z"}
    good = {**bad, "event_id": "r2", "customer_id": "c1"}

    response = api_client.post("/api/events", [good, bad], format="json", HTTP_X_REQUEST_ID="crm-42.a")

    assert response["X-Request-ID"] == "crm-42.a"
    finished = [r for r in caplog.records if r.getMessage().startswith("ingest batch")]
    assert [r.request_id for r in finished] == ["crm-42.a"]  # type: ignore[attr-defined]


def test_an_unusable_request_id_is_replaced_by_a_fresh_one(api_client) -> None:  # type: ignore[no-untyped-def]
    response = api_client.get("/api/ping", HTTP_X_REQUEST_ID="two words\n")

    rid = response["X-Request-ID"]
    assert len(rid) == 32 and int(rid, 16) >= 0


def test_json_log_lines_name_level_logger_message_and_request_id(settings) -> None:  # type: ignore[no-untyped-def]
    configurator = logging.config.DictConfigurator({})
    json_formatter = configurator.configure_custom(dict(settings.LOGGING["formatters"]["json"]))
    record = logging.LogRecord("apps.ingest", logging.WARNING, __file__, 1, "row %s refused", (7,), None)
    record.request_id = "abc"

    line = json.loads(json_formatter.format(record))

    assert (line["level"], line["logger"], line["request_id"], line["message"]) == (
        "WARNING", "apps.ingest", "abc", "row 7 refused")
    assert set(line) == {"time", "level", "logger", "request_id", "message"}


def test_metrics_need_the_scrape_token_or_a_staff_login(client, api_key, settings) -> None:  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = "s3cret-scrape"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Api-Key {api_key}").status_code == 403
    User.objects.create_user("viewer", password="pw-viewer-1")
    client.login(username="viewer", password="pw-viewer-1")
    assert client.get("/metrics").status_code == 403

    scraped = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape")

    assert scraped.status_code == 200
    assert scraped["Content-Type"].startswith("text/plain; version=")
    User.objects.create_user("ops", password="pw-ops-1", is_staff=True)
    client.login(username="ops", password="pw-ops-1")
    assert client.get("/metrics").status_code == 200


def test_no_token_configured_means_staff_only(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_ingest_rows_lag_and_request_latency_are_counted(api_client) -> None:  # type: ignore[no-untyped-def]
    loaded = sample("journeyhub_ingest_rows_total", outcome="loaded")
    quarantined = sample("journeyhub_ingest_rows_total", outcome="quarantined")
    lags = sample("journeyhub_ingest_lag_seconds_count")
    posts = sample("journeyhub_request_seconds_count", method="POST", route="api/events", status="201")
    rows = [{"event_id": f"m{i}", "customer_id": "c1", "event_type": "call", "channel": "voice",
             "timestamp": f"2026-02-01T00:0{i}:00Z"} for i in range(3)] + [{"event_type": "call"}]

    assert api_client.post("/api/events", rows, format="json").status_code == 201

    assert sample("journeyhub_ingest_rows_total", outcome="loaded") - loaded == 3
    assert sample("journeyhub_ingest_rows_total", outcome="quarantined") - quarantined == 1
    assert sample("journeyhub_ingest_lag_seconds_count") - lags == 1
    assert sample("journeyhub_request_seconds_count", method="POST", route="api/events", status="201") - posts == 1


def test_decisions_are_counted_by_kind_action_and_outcome(api_client) -> None:  # type: ignore[no-untyped-def]
    before = sample("journeyhub_decisions_total", kind="intent", action="menu", outcome="no_prediction")
    graph_reads = sample("journeyhub_graph_call_seconds_count", backend="embedded", outcome="ok")

    body = api_client.post("/api/decisions/intent", {"phone": "+61499999999"}, format="json").json()

    assert body["action"] == "menu"
    assert sample("journeyhub_decisions_total", kind="intent", action="menu", outcome="no_prediction") - before == 1
    assert sample("journeyhub_graph_call_seconds_count", backend="embedded", outcome="ok") > graph_reads


def test_job_queue_depth_counts_waiting_and_running_work() -> None:
    TrainingRun.objects.create(model_name="churn", status=TrainingRun.Status.RUNNING)
    TrainingRun.objects.create(model_name="csat", status=TrainingRun.Status.QUEUED)
    TrainingRun.objects.create(model_name="intent", status=TrainingRun.Status.QUEUED)  # one active run per model
    TrainingRun.objects.create(model_name="risk", status=TrainingRun.Status.SUCCEEDED)

    text = observability.exposition().decode()

    assert 'journeyhub_jobs{kind="training",status="running"} 1.0' in text
    assert 'journeyhub_jobs{kind="training",status="queued"} 2.0' in text
    assert 'journeyhub_jobs{kind="ingest",status="running"} 0.0' in text
