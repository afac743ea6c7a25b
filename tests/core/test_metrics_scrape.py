"""What a Prometheus scraper reads at /metrics after each kind of work: request latency per route,
decisions by kind, action and outcome with the feedback that confirms them, ingest rows by outcome and lag
(API, file, conversations), graph call latency, and the job queue's depth by status, zeros included."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django_q.conf import Conf
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from apps.core import jobs
from apps.propensity.tasks import queue_training
from tests.core.job_probe import echo

pytestmark = pytest.mark.django_db
TOKEN = "scrape-me"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def scrape(settings) -> Client:  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = TOKEN
    return Client()


def scraped(client: Client) -> Samples:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.content.decode()) for s in family.samples}


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


EVENT = {"customer_id": "c1", "event_type": "call", "channel": "voice"}


def test_request_latency_decisions_and_graph_calls_are_scraped(scrape: Client, api_client: APIClient) -> None:
    before = scraped(scrape)
    # when: a ping, an intent and a risk decision for an unknown caller
    assert api_client.get("/api/ping").status_code == 200
    intent = api_client.post("/api/decisions/intent", {"phone": "+61499999999"}, format="json").json()
    risk = api_client.post("/api/decisions/risk", {"phone": "+61499999999"}, format="json").json()
    after = scraped(scrape)
    # then
    assert delta(before, after, "journeyhub_request_seconds_count", method="GET", route="api/ping",
                 status="200") == 1
    assert delta(before, after, "journeyhub_request_seconds_count", method="POST", route="api/decisions/intent",
                 status="200") == 1
    assert (intent["action"], intent["intent"], risk["outcome"]) == ("menu", None, "pass_to_bot")
    assert delta(before, after, "journeyhub_decisions_total", kind="intent", action="menu",
                 outcome="no_prediction") == 1
    assert delta(before, after, "journeyhub_decisions_total", kind="risk", action="n/a",
                 outcome="pass_to_bot") == 1
    assert delta(before, after, "journeyhub_graph_call_seconds_count", backend="embedded", outcome="ok") >= 2


def test_confirmed_outcomes_are_scraped_by_how_they_compare_with_the_decision(
        scrape: Client, api_client: APIClient) -> None:
    # given an intent decision for a stranger (the menu, no intent predicted)
    api_client.post("/api/decisions/intent", {"phone": "+61499999999", "contact_id": "ct-1"}, format="json")
    before = scraped(scrape)
    # when the caller picks an intent from the menu, and another caller's feedback names no decision
    for body in ({"contact_id": "ct-1", "intent": "AC_NE"},
                 {"contact_id": "ct-never", "intent": "CC_NE", "phone": "+61499999998"}):
        assert api_client.post("/api/decisions/intent/feedback", body, format="json").status_code == 201
    after = scraped(scrape)
    # then each is counted once by how it compares, and neither counts as a decision
    assert delta(before, after, "journeyhub_decision_feedback_total", kind="intent", outcome="corrected") == 1
    assert delta(before, after, "journeyhub_decision_feedback_total", kind="intent", outcome="no_decision") == 1
    assert delta(before, after, "journeyhub_decision_feedback_total", kind="intent", outcome="confirmed") == 0
    assert sum(after.get(k, 0.0) - before.get(k, 0.0) for k in after if k[0] == "journeyhub_decisions_total") == 0


def test_ingest_rows_and_lag_are_scraped_for_the_api_files_and_conversations(
        scrape: Client, api_client: APIClient, tmp_path: Path) -> None:
    before = scraped(scrape)
    # when: two good events and a bad one through the API
    rows = [{**EVENT, "event_id": f"a{i}", "timestamp": f"2026-02-01T00:0{i}:00Z"} for i in range(2)]
    assert api_client.post("/api/events", [*rows, {"event_type": "call"}], format="json").status_code == 201
    # and a file of three events, one of them already loaded
    path = tmp_path / "calls.csv"
    path.write_text("customer_id,event_id,event_type,channel,timestamp\n"
                    "c1,a1,call,voice,2026-02-01T00:01:00Z\nc2,f1,call,voice,2026-02-02T00:00:00Z\n"
                    "c2,f2,chat,web,2026-02-02T00:05:00Z\n")
    call_command("ingest", str(path), "--format", "csv", verbosity=0)
    # and a transcript
    document = {"contact_id": "t-1", "channel": "chat", "started_at": "2026-11-03T08:00:00+00:00",
                "customer_id": "c9", "turns": [{"speaker": "customer", "text": "I want to cancel",
                                                "begin_ms": 0, "end_ms": 1000}]}
    (tmp_path / "t-1.json").write_text(json.dumps(document))
    call_command("ingest", str(tmp_path / "t-1.json"), "--format", "transcript", verbosity=0)
    after = scraped(scrape)
    # then: the transcript is two batches, its conversation and the contact event it names
    assert delta(before, after, "journeyhub_ingest_rows_total", outcome="loaded") == 2 + 2 + 1 + 1
    assert delta(before, after, "journeyhub_ingest_rows_total", outcome="duplicate") == 1
    assert delta(before, after, "journeyhub_ingest_rows_total", outcome="quarantined") == 1
    assert delta(before, after, "journeyhub_ingest_lag_seconds_count") == 3  # one per written chunk of events
    assert delta(before, after, "journeyhub_request_seconds_count", method="POST", route="api/events",
                 status="201") == 1


def test_the_job_queue_depth_is_scraped_by_status_with_zeros(scrape: Client, monkeypatch: pytest.MonkeyPatch,
                                                             django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(Conf, "SYNC", False)  # as in production: jobs wait for a worker
    # when two jobs are queued and a training run waits
    with django_capture_on_commit_callbacks(execute=True):
        first = jobs.enqueue(echo, "one", kind="probe")
        jobs.enqueue(echo, "two", kind="probe")
    queue_training(name="churn")
    waiting = scraped(scrape)
    # and the worker runs one of them
    assert jobs.execute(first.pk) == "succeeded"
    later = scraped(scrape)
    # then
    depth = {status: waiting[("journeyhub_jobs", (("kind", "jobs"), ("status", status)))]
             for status in ("queued", "running", "retrying", "succeeded", "failed")}
    assert depth == {"queued": 2, "running": 0, "retrying": 0, "succeeded": 0, "failed": 0}
    assert later[("journeyhub_jobs", (("kind", "jobs"), ("status", "queued")))] == 1
    assert later[("journeyhub_jobs", (("kind", "jobs"), ("status", "succeeded")))] == 1
    assert waiting[("journeyhub_jobs", (("kind", "training"), ("status", "queued")))] == 1
    assert waiting[("journeyhub_jobs", (("kind", "ingest"), ("status", "running")))] == 0
