"""Training as a background job: a TrainingRun row records status and progress for people to watch.

`run_training(run_id)` does the work (the job worker, `manage.py train` in the foreground and
`manage.py train --run` call it); `start_training(...)` records a run and queues its job
(apps.core.jobs); a worker that dies mid-run hands the job on, and when no attempt is left
`training_abandoned` marks the run failed. A foreground run records its process (`host:pid:start`,
the start time from /proc): an interrupt (Ctrl-C, SIGTERM) fails the run on the way out, and a run
whose process is gone (SIGKILL; its pid free or reused by a process started later) is failed by the
next request to train that model on the same host.
One run per model at a time: while a run of a model is queued or running, another is refused with
`TrainingInProgress` naming it (the API answers 409, the command exits with 2). The database holds
that rule (a unique constraint on active runs), so two requests at the same moment cannot both start one.
"""
from __future__ import annotations

import logging
import os
import re
import socket
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core import jobs
from apps.core.models import Job
from apps.propensity.models import TrainingRun
from apps.propensity.services import train_model
from apps.propensity.specs import ProgressFn

log = logging.getLogger(__name__)


def queue_training(*, name: str, since: datetime | None = None, until: datetime | None = None,
                   options: dict[str, Any] | None = None, trained_by: str = "system",
                   process: str = "") -> TrainingRun:
    """Record a queued run; `process` (`this_process()`) marks a run this process trains itself."""
    from apps.propensity.specs import get_spec

    get_spec(name)  # fail now, not in the background, when the name is unknown
    running = active_run(name)
    if running is not None:
        raise TrainingInProgress(running)
    try:
        with transaction.atomic():
            return TrainingRun.objects.create(model_name=name, since=since, until=until, options=options or {},
                                              trained_by=trained_by, process=process)
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


class Interrupted(BaseException):
    """A signal asked the process training in the foreground to stop (`manage.py train` turns SIGTERM
    into this, as Python turns SIGINT into KeyboardInterrupt); the run is failed on the way out."""


def this_process() -> str:
    """`host:pid:start`: the start time tells this process from a later one given the same pid."""
    pid = os.getpid()
    start = process_start(pid)
    return f"{socket.gethostname()}:{pid}" + (f":{start}" if start is not None else "")


def process_start(pid: int) -> int | None:
    """When process `pid` started, in clock ticks since boot (field 22 of /proc/<pid>/stat), or None
    when it does not exist or the system has no /proc. The command name (field 2) may hold spaces and
    parentheses, so the fields are counted from its closing parenthesis."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # field 3 (state) onwards
    return int(fields[22 - 3]) if len(fields) > 22 - 3 and fields[22 - 3].isdigit() else None


def active_run(name: str) -> TrainingRun | None:
    """The model's queued or running run; a foreground run whose process on this host is gone
    (killed with SIGKILL, so it could not say so) is failed here instead of blocking the model."""
    run = TrainingRun.objects.filter(model_name=name, status__in=TrainingRun.ACTIVE).first()
    if run is None or not _process_gone(run.process):
        return run
    TrainingRun.objects.filter(pk=run.pk, status__in=TrainingRun.ACTIVE).update(
        status=TrainingRun.Status.FAILED, finished=timezone.now(),
        message=f"the process training it ({run.process}) stopped before it finished")
    log.warning("training run %s of %s: its process %s is gone; failed", run.pk, name, run.process)
    return active_run(name)


_PROCESS = re.compile(r"^(?P<host>.+?):(?P<pid>\d+)(?::(?P<start>\d+))?$")


def _process_gone(process: str) -> bool:
    """True when the recorded process (`host:pid:start`, or `host:pid` from before start times were
    kept) is no longer running on this host: its pid is free, or taken by a process that started at
    another time (a reused pid must not keep a dead run looking alive)."""
    recorded = _PROCESS.match(process)
    if recorded is None or recorded["host"] != socket.gethostname():
        return False  # not a foreground run, or one on another machine: nothing to check here
    pid = int(recorded["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's: its start time still says whether it is the same process
    if recorded["start"] is None:
        return False
    started = process_start(pid)
    return started is not None and started != int(recorded["start"])


def run_training(run_id: int, *, progress: ProgressFn | None = None) -> TrainingRun:
    """Run a queued training run to completion, recording progress (also handed to `progress`); a
    failure is recorded, not raised. An interrupt (KeyboardInterrupt, `Interrupted`) fails the run
    with what stopped it, then goes on up."""
    run = TrainingRun.objects.get(pk=run_id)
    run.status, run.started, run.progress = TrainingRun.Status.RUNNING, timezone.now(), 0.0
    run.save(update_fields=["status", "started", "progress"])

    def recorded(fraction: float, message: str) -> None:
        TrainingRun.objects.filter(pk=run.pk).update(progress=round(fraction, 3), message=message[:500])
        if progress is not None:
            progress(fraction, message)

    try:
        version = _train(run, recorded)
    except Exception as exc:  # noqa: BLE001 - any failure must end the run visibly
        log.exception("training %s failed", run.model_name)
        run.refresh_from_db()
        run.status, run.error, run.message = TrainingRun.Status.FAILED, traceback.format_exc()[-4000:], str(exc)[:500]
    except (KeyboardInterrupt, Interrupted) as stop:
        reason = f"interrupted by {stop.args[0] if stop.args else 'Ctrl-C (SIGINT)'} before it finished"
        TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.FAILED, message=reason,
                                                     error=reason, finished=timezone.now())
        log.warning("training run %s of %s %s", run.pk, run.model_name, reason)
        raise
    else:
        run.refresh_from_db()
        run.status, run.model_version, run.progress = TrainingRun.Status.SUCCEEDED, version, 1.0
    run.finished = timezone.now()
    run.save()
    return run


def _train(run: TrainingRun, progress: ProgressFn) -> Any:
    options = dict(run.options)
    data = options.get("data")
    return train_model(name=run.model_name, since=run.since, until=run.until, data=Path(data) if data else None,
                       params=options.get("params"), seed=int(options.get("seed", 0)), trained_by=run.trained_by,
                       activate=bool(options.get("activate", True)), write_scores=bool(options.get("scores", True)),
                       progress=progress)


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
