"""Every kind of background job — upload, training, milestone backfill, KPI recompute (queued and
recurring), webhook delivery — has a Job row whose status and error read the same on the dashboard's
jobs table and in GET /api/jobs/{id}; a foreground `manage.py train` shows among the training runs."""
from __future__ import annotations

import csv
import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from apps.core import jobs
from apps.core.models import Job
from apps.ingest import tasks as ingest_tasks
from apps.journeys import tasks as journeys_tasks
from apps.journeys.models import MilestoneDefinition
from apps.propensity.tasks import start_training
from tests.core.job_probe import refuse
from tests.dashboard.conftest import client_for

pytestmark = pytest.mark.django_db
TOO_SHORT = ("the events span 0 days; churn with churn_days=90 needs at least 256 days (lower --param churn_days "
             "or load more history)")
NO_EVENTS = "no events in the graph for this window; load data first (manage.py demo / ingest)"


def table(client: Client, url: str) -> dict[str, dict[str, str]]:
    """A dashboard table's CSV rows by their first column."""
    rows = list(csv.DictReader(io.StringIO(client.get(url).content.decode())))
    return {row[next(iter(row))]: row for row in rows}


def test_each_kind_of_job_shows_status_and_error_on_the_dashboard_and_in_the_api(
        api_client: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # given one job of each kind, run where it is queued
    monkeypatch.setitem(jobs._recurring, "probe", jobs.Recurring("probe", refuse, 1, "webhook_delivery"))
    MilestoneDefinition.objects.create(name="Bought", slug="bought", trigger="event_type", event_type="purchase")
    upload = ingest_tasks.queue_upload(chunks=[b"customer_id,event_id,event_type,channel,timestamp\n"
                                               b"c1,e1,call,voice,2026-02-01T00:00:00Z\n"], name="calls.csv", fmt="csv")
    _, training = start_training(name="churn", trained_by="ops")
    backfill = journeys_tasks.queue_backfill(slugs=["bought"])
    kpis = journeys_tasks.queue_kpi_recompute(slugs=[])
    assert jobs.run_recurring("deliver webhooks") == "succeeded"
    assert jobs.run_recurring("recompute stale KPI days") == "succeeded"
    assert jobs.run_recurring("probe") == "failed"
    delivery, stale_kpis, refused = (Job.objects.get(ref=name) for name in
                                     ("deliver webhooks", "recompute stale KPI days", "probe"))
    expected = {upload.pk: ("ingest_upload", "succeeded", ""), training.pk: ("training", "failed", TOO_SHORT),
                backfill.pk: ("milestone_backfill", "succeeded", ""), kpis.pk: ("kpi_recompute", "succeeded", ""),
                delivery.pk: ("webhook_delivery", "succeeded", ""), stale_kpis.pk: ("kpi_recompute", "succeeded", ""),
                refused.pk: ("webhook_delivery", "failed", "webhook target refused the connection")}
    # when
    shown = table(client_for("ada", "admin"), "/ingest/?format=csv&table=jobs")
    answered = {pk: api_client.get(f"/api/jobs/{pk}").json() for pk in expected}
    # then
    assert {int(pk): (row["Kind"], row["Status"], row["Error"]) for pk, row in shown.items()} == expected
    assert {pk: (body["kind"], body["status"], body["error"].splitlines()[0] if body["error"] else "")
            for pk, body in answered.items()} == expected
    assert answered[refused.pk]["attempts"] == answered[refused.pk]["max_attempts"] == 1


def test_routine_runs_of_a_recurring_job_are_pruned_and_only_the_latest_is_listed() -> None:
    # given
    for _ in range(jobs.KEEP_RECURRING + 3):
        jobs.run_recurring("deliver webhooks")
    one_off = jobs.enqueue(jobs.reap, kind="probe")
    # when
    shown = table(client_for("ada", "admin"), "/ingest/?format=csv&table=jobs")
    # then
    kept = Job.objects.filter(kind="webhook_delivery").order_by("-id")
    assert kept.count() == jobs.KEEP_RECURRING
    assert list(shown) == [str(one_off.pk), str(kept[0].pk)]


def test_the_models_page_lists_training_runs_with_their_reason_for_admins_only() -> None:
    # given a foreground run that failed on its data
    with pytest.raises(CommandError, match=NO_EVENTS.replace("(", r"\(").replace(")", r"\)")):
        call_command("train", "churn", verbosity=0)
    # when
    admin_rows = table(client_for("ada", "admin"), "/models/?format=csv&table=runs")
    viewer_rows = table(client_for("vera", "viewer"), "/models/?format=csv&table=runs")
    # then
    [(run_id, admin_row)] = admin_rows.items()
    assert (admin_row["Model"], admin_row["Status"], admin_row["By"]) == ("churn", "failed", "manage.py train")
    assert (admin_row["Message"], admin_row["Error"]) == (NO_EVENTS, f"ValueError: {NO_EVENTS}")
    assert (viewer_rows[run_id]["Message"], viewer_rows[run_id]["Error"]) == (
        "Training failed; an admin can read why.", "")
