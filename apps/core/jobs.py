"""Background jobs: long work leaves the web request and runs on a worker.

The queue is django-q2 with its ORM broker (a table in the project's database, no other server);
`python manage.py qcluster` is the worker, and its scheduler runs the recurring jobs. django-q2
only carries a `Job` row's id: the row (apps.core.models.Job) keeps what to call, the status, the
attempts, the error and the id of the request that queued it, so they stay readable whatever becomes
of the worker. Three rules make a job finish, one way or the other:

- a job function that raises is tried again after JOB_BACKOFF_SECONDS, doubling each time, until
  its `max_attempts` are used up; then it is failed and its owner's `on_failure(ref, error)` runs;
- a job whose worker died (killed, machine lost) is handed out again by the broker after
  JOB_RETRY_SECONDS; that counts as an attempt, and with none left the job is failed (`reap` does the
  same for a job whose task django-q2 stopped at its timeout);
- while it runs, the request id of the request that queued it is set, so its log lines carry it.

Recurring jobs (`every`) get a row per run too (`run_recurring`), so webhook delivery and the stale-KPI
recompute show their status and error where every other job does; one attempt each (the next run is
minutes away), and only the latest KEEP_RECURRING succeeded runs of each are kept.

Job functions live in each app's tasks.py and take plain JSON values (ids, paths), because they are
stored in the database and called again on a retry.
"""
from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing import Queue, Value
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules, import_string
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import Schedule
from django_q.monitor import monitor
from django_q.scheduler import scheduler
from django_q.signing import SignedPackage
from django_q.tasks import async_task
from django_q.worker import worker

from apps.core.models import Job
from apps.core.observability import request_id

log = logging.getLogger(__name__)
Status = Job.Status


class Permanent(Exception):
    """Raised by a job function for a failure another attempt cannot fix (an unreadable file): the job
    fails at once with this message."""


def dotted(func: Callable[..., Any]) -> str:
    """The name a job is stored under: the job runs again from this name on a retry."""
    return f"{func.__module__}.{func.__qualname__}"


def enqueue(func: Callable[..., Any], *args: Any, kind: str, ref: str = "",
            on_failure: Callable[[str, str], Any] | None = None, max_attempts: int | None = None,
            **kwargs: Any) -> Job:
    """Record a job and queue it once the caller's transaction commits (the worker must see the row)."""
    rid = request_id.get()
    job = Job.objects.create(kind=kind, ref=ref, func=dotted(func), args=list(args), kwargs=kwargs,
                             on_failure=dotted(on_failure) if on_failure else "",
                             max_attempts=max_attempts or settings.JOB_MAX_ATTEMPTS,
                             request_id="" if rid == "-" else rid)
    log.info("job %s (%s) queued", job.pk, job.label)
    if Conf.SYNC:  # tests: the job runs here and now, inside the caller's transaction
        dispatch(job.pk)
    else:
        transaction.on_commit(lambda: dispatch(job.pk))
    return job


def dispatch(job_id: int) -> None:
    async_task(execute, job_id, task_name=f"job-{job_id}")


def execute(job_id: int) -> str:
    """What the worker runs: one attempt of a job, recorded on its row, under the request id that
    queued it."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.status in (Status.SUCCEEDED, Status.FAILED):
        return "nothing to do"
    token = request_id.set(job.request_id or f"job-{job.pk}")
    try:
        return _claim_and_run(job)
    finally:
        request_id.reset(token)


def _claim_and_run(job: Job) -> str:
    if job.status == Status.RUNNING:
        if job.started and job.started > timezone.now() - timedelta(seconds=settings.JOB_TIMEOUT):
            return "running elsewhere"  # a live attempt is still within its timeout
        log.warning("job %s (%s): the worker of attempt %s stopped before it finished", job.pk, job.label,
                    job.attempts)
        if job.attempts >= job.max_attempts:
            give_up(job, f"the worker running attempt {job.attempts} of {job.max_attempts} stopped "
                         "(killed or lost) before the job finished")
            return "failed: worker lost"
    claimed = Job.objects.filter(pk=job.pk, status=job.status, attempts=job.attempts).update(
        status=Status.RUNNING, attempts=F("attempts") + 1, started=timezone.now(), next_attempt=None)
    if not claimed:
        return "taken by another worker"
    job.refresh_from_db()
    return _attempt(job)


def _attempt(job: Job) -> str:
    log.info("job %s (%s): attempt %s of %s", job.pk, job.label, job.attempts, job.max_attempts)
    try:
        value = import_string(job.func)(*job.args, **job.kwargs)
    except Permanent as exc:
        give_up(job, str(exc))
        return "failed"
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job, then retried or final
        error = f"{exc}\n\n{traceback.format_exc()[-4000:]}"
        if job.attempts < job.max_attempts:
            retry_later(job, error)
            return "retrying"
        give_up(job, error)
        return "failed"
    result = value if isinstance(value, (str, int, float, bool, list, dict, type(None))) else repr(value)
    Job.objects.filter(pk=job.pk).update(status=Status.SUCCEEDED, finished=timezone.now(), error="", result=result)
    log.info("job %s (%s) succeeded", job.pk, job.label)
    return "succeeded"


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=settings.JOB_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0))


def retry_later(job: Job, error: str) -> None:
    when = timezone.now() + backoff(job.attempts)
    Job.objects.filter(pk=job.pk).update(status=Status.RETRYING, error=error, next_attempt=when)
    Schedule.objects.create(name=f"job-{job.pk}-attempt-{job.attempts + 1}", func=dotted(execute),
                            args=repr(job.pk), schedule_type=Schedule.ONCE, repeats=-1, next_run=when)
    log.warning("job %s (%s) attempt %s failed, next at %s: %s", job.pk, job.label, job.attempts,
                when.isoformat(timespec="seconds"), error.splitlines()[0] if error else "")


def give_up(job: Job, error: str) -> None:
    Job.objects.filter(pk=job.pk).update(status=Status.FAILED, error=error, finished=timezone.now(),
                                         next_attempt=None)
    if job.on_failure:
        import_string(job.on_failure)(job.ref, error)
    log.error("job %s (%s) failed after %s attempt(s): %s", job.pk, job.label, job.attempts,
              error.splitlines()[0] if error else "")


def reap() -> int:
    """Hand out again the jobs left running past every timeout (their task was stopped or lost), so
    each is retried or failed; runs on a schedule."""
    limit = timezone.now() - timedelta(seconds=settings.JOB_RETRY_SECONDS)
    stale = list(Job.objects.filter(status=Status.RUNNING, started__lt=limit).values_list("pk", flat=True))
    for job_id in stale:
        dispatch(job_id)
    return len(stale)


def counts() -> dict[str, int]:
    """Jobs by status, for the `journeyhub_jobs` gauge (queue depth): every status, 0 when none, so a
    drained queue reads 0 rather than a series that vanished."""
    found = dict(Job.objects.values_list("status").annotate(n=Count("id")).order_by())
    return {status: int(found.get(status, 0)) for status in Status.values}


def recent(limit: int = 50) -> list[Job]:
    """The newest jobs for a status table: every one-off job, and of each recurring job its failures
    and its latest run (one succeeded delivery a minute would push everything else off the table)."""
    routine = Q()
    for item in declared().values():
        mine = Job.objects.filter(kind=item.kind, ref=item.name)
        routine |= Q(kind=item.kind, ref=item.name, status=Status.SUCCEEDED) & ~Q(
            pk__in=mine.values_list("pk", flat=True)[:1])
    return list(Job.objects.exclude(routine)[:limit] if routine else Job.objects.all()[:limit])


def latest(kind: str, ref: str) -> Job | None:
    """The newest job working on a record, for status pages."""
    return Job.objects.filter(kind=kind, ref=ref).first()


@dataclass(frozen=True)
class Recurring:
    name: str
    func: Callable[..., Any]
    minutes: int
    kind: str


_recurring: dict[str, Recurring] = {}
_discovered: list[bool] = []
KEEP_RECURRING = 20


def declared() -> dict[str, Recurring]:
    """The recurring jobs the apps declare, by name: their tasks.py modules are imported on first use
    in this process (a worker runs `run_recurring` without having imported them)."""
    if not _discovered:
        autodiscover_modules("tasks")
        _discovered.append(True)
    return _recurring


def every(minutes: int, name: str, *, kind: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a job function that runs every `minutes` (apps' tasks.py) as a job of `kind`;
    `install_schedules` (after migrate) writes the schedule the worker's scheduler follows."""
    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        _recurring[name] = Recurring(name, func, minutes, kind or name.replace(" ", "_"))
        return func
    return register


def install_schedules() -> list[str]:
    for item in declared().values():
        Schedule.objects.update_or_create(name=item.name, defaults={
            "func": dotted(run_recurring), "args": repr(item.name), "schedule_type": Schedule.MINUTES,
            "minutes": item.minutes, "repeats": -1})
    return sorted(_recurring)


def run_recurring(name: str) -> str:
    """What a recurring schedule runs: one attempt of the declared function, recorded on a Job row of
    its kind (ref: the schedule's name), so its status and error are read like any job's."""
    item = declared().get(name)
    if item is None:
        log.error("no recurring job named %r; known: %s", name, ", ".join(sorted(_recurring)))
        return "unknown"
    job = Job.objects.create(kind=item.kind, ref=item.name, func=dotted(item.func), max_attempts=1)
    outcome = execute(job.pk)
    stale = (Job.objects.filter(kind=item.kind, ref=item.name, status=Status.SUCCEEDED)
             .values_list("pk", flat=True)[KEEP_RECURRING:])
    Job.objects.filter(pk__in=list(stale)).delete()
    return outcome


every(5, "reap stale jobs", kind="reap")(reap)


class InProcessWorker(threading.Thread):
    """The worker as a thread of the web process, for the local demo: with GRAPH_URL=embedded:// the
    store opens in one process only, so jobs that read the graph must run beside the web views.
    Same broker, same scheduler, same task runner as `qcluster`; no timeout (signals need the main thread)."""

    def __init__(self) -> None:
        super().__init__(name="jobs-in-process", daemon=True)
        self.stopping = threading.Event()
        self.ran = threading.Event()  # set after each task, for whoever waits on the thread

    def run(self) -> None:
        broker = get_broker()
        while not self.stopping.is_set():
            try:
                scheduler(broker=broker)
                for ack_id, package in broker.dequeue() or []:
                    self._run(broker, ack_id, package)
                    self.ran.set()
            except Exception:  # noqa: BLE001 - the thread outlives one bad poll (database busy, bad package)
                log.exception("in-process job worker: poll failed")
                self.stopping.wait(settings.Q_CLUSTER.get("poll", 1))

    @staticmethod
    def _run(broker: Any, ack_id: Any, package: Any) -> None:
        task = SignedPackage.loads(package)
        task["ack_id"] = ack_id
        tasks: Queue[Any] = Queue()
        results: Queue[Any] = Queue()
        tasks.put(task)
        tasks.put("STOP")
        worker(tasks, results, Value("f", -1), timeout=-1)
        results.put("STOP")
        monitor(results, broker)


def start_in_process_worker() -> InProcessWorker | None:
    """Start the in-process worker when JOBS_IN_PROCESS is on (local settings with an embedded store)."""
    if not settings.JOBS_IN_PROCESS:
        return None
    thread = InProcessWorker()
    thread.start()
    log.info("jobs run on a thread of this process (JOBS_IN_PROCESS)")
    return thread
