"""A real job worker (`manage.py qcluster`) killed with SIGKILL in the middle of a job: the job is
handed out again and finishes, or, with no attempt left, is failed with the reason; never left running.
Waits read the worker's log lines as they come (deadlines, no sleeps)."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def worker_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("jobs")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GRAPH_", "DATABASE_", "JOB"))}
    env.update({"DJANGO_SETTINGS_MODULE": "journeyhub.settings.test", "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
                "JOBS_SYNC": "false", "JOB_TIMEOUT": "3", "JOB_RETRY_SECONDS": "4", "JOB_WORKERS": "1",
                "LOG_FORMAT": "text", "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp)})
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=180)
    return env


def shell(env: dict[str, str], code: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def start_worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def kill(worker: subprocess.Popen[str]) -> None:
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for worker in started:
        if worker.poll() is None:
            kill(worker)


def release(gate: Path, deadline_s: float = 10) -> None:
    """Write to the FIFO the job reads. Opening a FIFO for writing waits until its reader opens it (the
    job does right after logging that it waits), so the open runs on a thread joined with a deadline;
    past it, the test opens the reading end itself to free that thread, and fails."""
    opened: dict[str, int] = {}
    opener = threading.Thread(target=lambda: opened.setdefault("fd", os.open(gate, os.O_WRONLY)), daemon=True)
    opener.start()
    opener.join(deadline_s)
    if opener.is_alive():
        reader = os.open(gate, os.O_RDONLY | os.O_NONBLOCK)
        opener.join()
        os.close(opened["fd"])
        os.close(reader)
        raise AssertionError(f"no job is reading {gate}")
    os.write(opened["fd"], b"go")
    os.close(opened["fd"])


def job_row(env: dict[str, str], job_id: int) -> tuple[str, int, str, str]:
    with sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///")) as db:
        return db.execute("select status, attempts, request_id, error from core_job where id = ?", (job_id,)).fetchone()


def queue_probe(env: dict[str, str], gate: Path, *, request: str, attempts: int, extra: str = "",
                on_failure: str = "None", ref: str = "") -> int:
    os.mkfifo(gate)
    return int(shell(env, f"""
from apps.core import jobs
from apps.core.observability import request_id
from tests.core.job_probe import wait_at_gate
{extra}
request_id.set({request!r})
print(jobs.enqueue(wait_at_gate, {str(gate)!r}, kind="probe", ref={ref!r}, max_attempts={attempts},
                   on_failure={on_failure}).pk)
"""))


def test_a_job_whose_worker_is_killed_runs_again_on_the_next_worker_and_keeps_its_request_id(
        worker_env, workers, tmp_path):  # type: ignore[no-untyped-def]
    # given a job queued by request req-kill-1, taken by a worker that is killed while the job runs
    gate = tmp_path / "gate"
    job_id = queue_probe(worker_env, gate, request="req-kill-1", attempts=2)
    workers.append(start_worker(worker_env))
    wait_for(workers[0], f"job {job_id} (probe): attempt 1 of 2", "probe waiting at gate")
    kill(workers[0])
    assert job_row(worker_env, job_id)[:2] == ("running", 1)

    # when another worker starts
    workers.append(start_worker(worker_env))
    seen = wait_for(workers[1], f"job {job_id} (probe): attempt 2 of 2", "probe waiting at gate", deadline_s=60)
    release(gate)  # lets the second attempt finish
    seen += wait_for(workers[1], f"job {job_id} (probe) succeeded", deadline_s=60)

    # then the job ran again to the end, and its log lines carry the request that queued it
    assert job_row(worker_env, job_id) == ("succeeded", 2, "req-kill-1", "")
    attempt_line = next(line for line in seen if f"job {job_id} (probe): attempt 2 of 2" in line)
    assert "[req-kill-1]" in attempt_line
    assert "[req-kill-1]" in next(line for line in seen if "probe waiting at gate" in line)


def test_a_killed_job_with_no_attempt_left_is_failed_and_its_training_run_with_it(
        worker_env, workers, tmp_path):  # type: ignore[no-untyped-def]
    # given a training run whose one-attempt job is killed mid-run
    run_id = int(shell(worker_env, "from apps.propensity.models import TrainingRun\n"
                                   "print(TrainingRun.objects.create(model_name='churn', status='running').pk)"))
    job_id = queue_probe(worker_env, tmp_path / "gate", request="req-kill-2", attempts=1,
                         extra="from apps.propensity.tasks import training_abandoned",
                         on_failure="training_abandoned", ref=f"training_run:{run_id}")
    workers.append(start_worker(worker_env))
    wait_for(workers[0], f"job {job_id} (probe training_run:{run_id}): attempt 1 of 1", "probe waiting at gate")
    kill(workers[0])

    # when the next worker is handed the job
    workers.append(start_worker(worker_env))
    seen = wait_for(workers[1], f"job {job_id} (probe training_run:{run_id}) failed after 1 attempt(s)",
                    deadline_s=60)

    # then the job and its run are failed with the reason, nothing is left running
    status, attempts, _, error = job_row(worker_env, job_id)
    reason = "the worker running attempt 1 of 1 stopped (killed or lost) before the job finished"
    assert (status, attempts, error) == ("failed", 1, reason)
    with sqlite3.connect(worker_env["DATABASE_URL"].removeprefix("sqlite:///")) as db:
        run = db.execute("select status, message, finished is not null from propensity_trainingrun where id = ?",
                         (run_id,)).fetchone()
    assert run == ("failed", reason, 1)
    lost = next(line for line in seen if "the worker of attempt 1 stopped before it finished" in line)
    assert "[req-kill-2]" in lost


def test_the_in_process_worker_of_the_local_demo_runs_queued_jobs(worker_env) -> None:  # type: ignore[no-untyped-def]
    # given a job queued while no worker runs, when the web process's worker thread starts
    out = shell(worker_env, """
import time
from apps.core import jobs
from tests.core.job_probe import echo
job = jobs.enqueue(echo, "hello", kind="probe", ref="in-process")
worker = jobs.InProcessWorker()
worker.start()
end = time.monotonic() + 60
while job.status != "succeeded":  # the recurring jobs may come first
    assert worker.ran.wait(timeout=max(end - time.monotonic(), 0)), f"the in-process worker left job {job.pk}"
    worker.ran.clear()
    job.refresh_from_db()
worker.stopping.set()
print(job.status, job.attempts, worker.name)
""")

    # then the thread ran it to the end
    assert out == "succeeded 1 jobs-in-process"


def test_a_recurring_job_the_scheduler_fires_is_recorded_as_a_job_of_its_kind(worker_env) -> None:  # type: ignore[no-untyped-def]
    # given the webhook delivery schedule due now, when a worker (the scheduler and the task runner of
    # qcluster, on a thread) polls
    out = shell(worker_env, """
from django.utils import timezone
from django_q.models import Schedule
from apps.core import jobs
from apps.core.models import Job
Schedule.objects.filter(name="deliver webhooks").update(next_run=timezone.now())
before = Job.objects.filter(ref="deliver webhooks").count()
worker = jobs.InProcessWorker()
worker.start()
while Job.objects.filter(ref="deliver webhooks").count() == before:
    assert worker.ran.wait(timeout=60), "the scheduler ran no webhook delivery"
    worker.ran.clear()
worker.stopping.set()
job = Job.objects.filter(ref="deliver webhooks").first()
print(job.kind, job.status, job.attempts, job.max_attempts)
""")

    # then the run has its own job row, like every other job
    assert out == "webhook_delivery succeeded 1 1"
