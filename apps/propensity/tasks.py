"""Training as a background job: a TrainingRun row records status and progress for people to watch.

`run_training(run_id)` does the work (the job worker or `manage.py train --run` calls it);
`start_training(...)` records a run and queues its job (apps.core.jobs); a worker that dies mid-run
hands the job on, and when no attempt is left `training_abandoned` marks the run failed.
One run per model at a time: while a run of a model is queued or running, another is refused with
`TrainingInProgress` naming it (the API answers 409). The database holds that rule (a unique
constraint on active runs), so two requests at the same moment cannot both start one.
"""
from __future__ import annotations

import logging
import traceback
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core import jobs
from apps.core.models import Job
from apps.propensity.models import TrainingRun
from apps.propensity.services import train_model

log = logging.getLogger(__name__)


def queue_training(*, name: str, since: datetime | None = None, until: datetime | None = None,
                   options: dict[str, Any] | None = None, trained_by: str = "system") -> TrainingRun:
    from apps.propensity.specs import get_spec

    get_spec(name)  # fail now, not in the background, when the name is unknown
    running = active_run(name)
    if running is not None:
        raise TrainingInProgress(running)
    try:
        with transaction.atomic():
            return TrainingRun.objects.create(model_name=name, since=since, until=until, options=options or {},
                                              trained_by=trained_by)
    except IntegrityError:  # another request recorded a run of this model since the check above
        running = active_run(name)
        if running is None:
            raise
        raise TrainingInProgress(running) from None


class TrainingInProgress(Exception):
    """A run of this model is queued or running: the caller watches that one instead of starting another."""

    def __init__(self, run: TrainingRun) -> None:
        super().__init__(f"{run.model_name} is already being trained: run {run.pk} is {run.status}")
        self.run = run


def active_run(name: str) -> TrainingRun | None:
    return TrainingRun.objects.filter(model_name=name, status__in=TrainingRun.ACTIVE).first()


def run_training(run_id: int) -> TrainingRun:
    """Run a queued training run to completion, recording progress; a failure is recorded, not raised."""
    run = TrainingRun.objects.get(pk=run_id)
    run.status, run.started, run.progress = TrainingRun.Status.RUNNING, timezone.now(), 0.0
    run.save(update_fields=["status", "started", "progress"])

    def progress(fraction: float, message: str) -> None:
        TrainingRun.objects.filter(pk=run.pk).update(progress=round(fraction, 3), message=message[:500])

    try:
        options = dict(run.options)
        version = train_model(name=run.model_name, since=run.since, until=run.until, data=options.get("data"),
                              params=options.get("params"), seed=int(options.get("seed", 0)),
                              trained_by=run.trained_by, progress=progress)
    except Exception as exc:  # noqa: BLE001 - any failure must end the run visibly
        log.exception("training %s failed", run.model_name)
        run.refresh_from_db()
        run.status, run.error, run.message = TrainingRun.Status.FAILED, traceback.format_exc()[-4000:], str(exc)[:500]
    else:
        run.refresh_from_db()
        run.status, run.model_version, run.progress = TrainingRun.Status.SUCCEEDED, version, 1.0
    run.finished = timezone.now()
    run.save()
    return run


def start_training(**kwargs: Any) -> tuple[TrainingRun, Job]:
    """Record a run and queue it; training fails by itself on bad data (recorded on the run), so only a
    lost worker gets another attempt."""
    run = queue_training(**kwargs)
    job = jobs.enqueue(training_job, run.pk, kind="training", ref=job_ref(run.pk), on_failure=training_abandoned,
                       max_attempts=2)
    run.refresh_from_db()
    return run, job


def training_job(run_id: int) -> None:
    """The job: a run that failed on its data fails the job with the same reason (no retry: the data
    would not change), so the jobs list and the run agree."""
    run = run_training(run_id)
    if run.status == TrainingRun.Status.FAILED:
        raise jobs.Permanent(run.message or "training failed")


def job_ref(run_id: int) -> str:
    return f"training_run:{run_id}"


def training_abandoned(ref: str, error: str) -> None:
    """The job gave up (its workers died): the run is failed with the reason, never left running."""
    run_id = int(ref.rsplit(":", 1)[1])
    finished = (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED)
    TrainingRun.objects.filter(pk=run_id).exclude(status__in=finished).update(
        status=TrainingRun.Status.FAILED, error=error[-4000:], message=error.splitlines()[0][:500],
        finished=timezone.now())
