"""The job layer (apps.core.jobs) in the test process: jobs run where they are queued (django-q2's sync
mode), so each attempt, its backoff and its outcome can be read right after."""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule

from apps.core import jobs
from apps.core.models import Job
from apps.core.observability import request_id
from apps.propensity.models import TrainingRun
from apps.propensity.tasks import training_abandoned
from tests.core.job_probe import fail_with

pytestmark = pytest.mark.django_db


def test_a_failing_job_is_retried_with_doubling_backoff_then_failed_with_its_error(settings):  # type: ignore[no-untyped-def]
    settings.JOB_BACKOFF_SECONDS = 30
    run = TrainingRun.objects.create(model_name="churn")

    # given a job that always fails, with three attempts
    before = timezone.now()
    job = jobs.enqueue(fail_with, "store unreachable", kind="probe", ref=f"training_run:{run.pk}", max_attempts=3,
                       on_failure=training_abandoned)
    job.refresh_from_db()

    # then the first attempt failed and the next one waits 30 s, on a one-off schedule
    assert (job.status, job.attempts) == ("retrying", 1)
    assert job.error.startswith("store unreachable\n")
    assert timedelta(seconds=30) <= job.next_attempt - before < timedelta(seconds=31)
    schedule = Schedule.objects.get(name=f"job-{job.pk}-attempt-2")
    assert (schedule.func, schedule.args, schedule.schedule_type) == ("apps.core.jobs.execute", str(job.pk), "O")

    # when the schedule fires: the second attempt fails too and the next waits twice as long
    before = timezone.now()
    assert jobs.execute(job.pk) == "retrying"
    job.refresh_from_db()
    assert job.attempts == 2
    assert timedelta(seconds=60) <= job.next_attempt - before < timedelta(seconds=61)

    # and the last attempt fails: the job is failed and its training run with it
    assert jobs.execute(job.pk) == "failed"
    job.refresh_from_db()
    run.refresh_from_db()
    assert (job.status, job.attempts, job.next_attempt) == ("failed", 3, None)
    assert (run.status, run.message) == ("failed", "store unreachable")
    assert jobs.execute(job.pk) == "nothing to do"


def test_a_permanent_failure_is_not_retried(settings, tmp_path):  # type: ignore[no-untyped-def]
    from apps.ingest.tasks import ingest_upload

    job = jobs.enqueue(ingest_upload, str(tmp_path / "gone.csv"), "csv", kind="ingest_upload", max_attempts=3)
    job.refresh_from_db()

    assert (job.status, job.attempts) == ("failed", 1)
    assert job.error == f"gone.csv: input file not found: {tmp_path / 'gone.csv'}"
    assert not Schedule.objects.filter(name__startswith=f"job-{job.pk}-").exists()


def test_a_job_logs_under_the_request_id_that_queued_it(caplog):  # type: ignore[no-untyped-def]
    token = request_id.set("req-42")
    try:
        job = jobs.enqueue(fail_with, "boom", kind="probe", max_attempts=1)
    finally:
        request_id.reset(token)
    job.refresh_from_db()

    assert job.request_id == "req-42"
    records = [r for r in caplog.records if r.name == "apps.core.jobs" and f"job {job.pk} " in r.getMessage()]
    assert [r.getMessage() for r in records] == [
        f"job {job.pk} (probe) queued", f"job {job.pk} (probe): attempt 1 of 1",
        f"job {job.pk} (probe) failed after 1 attempt(s): boom"]
    assert {logging.Formatter("%(request_id)s").format(r) for r in records} == {"req-42"}
    assert caplog.records[-1].request_id == "req-42"  # type: ignore[attr-defined]


def test_a_job_left_running_past_every_timeout_is_handed_out_again_and_failed(settings):  # type: ignore[no-untyped-def]
    settings.JOB_TIMEOUT, settings.JOB_RETRY_SECONDS = 500, 600
    lost = Job.objects.create(kind="probe", func="tests.core.job_probe.fail_with", args=["x"], max_attempts=1,
                              status="running", attempts=1, started=timezone.now() - timedelta(seconds=601))
    fresh = Job.objects.create(kind="probe", func="tests.core.job_probe.fail_with", args=["x"], max_attempts=1,
                               status="running", attempts=1, started=timezone.now())

    assert jobs.reap() == 1

    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert (lost.status, fresh.status) == ("failed", "running")
    assert lost.error.startswith("the worker running attempt 1 of 1 stopped")


def test_recurring_jobs_have_their_schedules_after_migrate() -> None:
    schedules = {s.name: (s.func, s.args, s.minutes) for s in Schedule.objects.filter(schedule_type=Schedule.MINUTES)}

    run = "apps.core.jobs.run_recurring"
    assert schedules == {"deliver webhooks": (run, "'deliver webhooks'", 1),
                         "recompute stale KPI days": (run, "'recompute stale KPI days'", 15),
                         "reap stale jobs": (run, "'reap stale jobs'", 5),
                         "compact the event store": (run, "'compact the event store'", 60)}
    assert {name: (item.func.__name__, item.kind) for name, item in jobs._recurring.items()} == {
        "deliver webhooks": ("deliver_webhooks", "webhook_delivery"),
        "recompute stale KPI days": ("recompute_stale_kpis", "kpi_recompute"), "reap stale jobs": ("reap", "reap"),
        "compact the event store": ("compact_event_store", "events_compact")}


def test_training_from_the_api_is_a_queued_job_that_the_worker_runs(api_client, monkeypatch,
                                                                     django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(Conf, "SYNC", False)  # as in production: a worker process runs the queue

    # when training is asked for while no worker runs
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/models/churn/train", {}, format="json", HTTP_X_REQUEST_ID="req-train-1")

    # then the run is queued, with its job on the queue under the request's id
    run_id = response.json()["id"]
    job = Job.objects.get()
    assert (response.status_code, response.json()["status"]) == (202, "queued")
    assert (job.kind, job.ref, job.args, job.request_id, job.max_attempts) == (
        "training", f"training_run:{run_id}", [run_id], "req-train-1", 2)
    assert OrmQ.objects.count() == 1
    assert api_client.get(f"/api/training-runs/{run_id}").json()["status"] == "queued"

    # when the worker runs it: the run fails (no events to learn from) with its traceback, and the job
    # with the same reason, at once (the data would not change on a retry)
    assert jobs.execute(job.pk) == "failed"
    reason = "no events in the graph for this window; load data first (manage.py demo / ingest)"
    run = api_client.get(f"/api/training-runs/{run_id}").json()
    job.refresh_from_db()
    assert (run["status"], run["message"]) == ("failed", reason)
    assert (job.status, job.attempts, job.error) == ("failed", 1, reason)
    assert run["error"].startswith("Traceback")
