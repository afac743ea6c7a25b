"""`manage.py train MODEL` in the foreground takes a training run row like the API's job: the one run
per model rule covers it, people see it running, and an interrupt or a killed process fails it."""
from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.propensity import registry
from apps.propensity.models import TrainingRun
from apps.propensity.tasks import queue_training
from tests.processes import wait_for
from tests.propensity import synthetic

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_registry():  # type: ignore[no-untyped-def]
    registry.clear_cache()
    yield
    registry.clear_cache()


@pytest.mark.django_db
def test_a_foreground_run_is_recorded_as_a_training_run() -> None:
    # given
    synthetic.load(customers=40)
    # when
    call_command("train", "csat", "--no-scores", verbosity=0)
    # then
    run = TrainingRun.objects.get()
    assert (run.model_name, run.status, run.progress, run.trained_by) == ("csat", "succeeded", 1.0, "manage.py train")
    assert run.model_version is not None and run.model_version.version == 1
    assert run.options == {"params": {}, "seed": 0, "activate": True, "scores": False}
    assert run.process == f"{socket.gethostname()}:{os.getpid()}:{start_ticks(os.getpid())}"


@pytest.mark.django_db
def test_a_foreground_run_is_refused_with_exit_code_2_while_a_run_of_the_model_is_active() -> None:
    # given: a run of csat queued through the API's path
    queued = queue_training(name="csat", trained_by="ops")
    # when
    with pytest.raises(CommandError) as refused:
        call_command("train", "csat", verbosity=0)
    # then
    assert refused.value.returncode == 2
    assert str(refused.value) == (f"csat is already being trained: run {queued.pk} is queued (started by ops); wait "
                                  f"for it to finish (GET /api/training-runs/{queued.pk})")
    assert TrainingRun.objects.count() == 1


@pytest.mark.django_db
def test_a_foreground_run_whose_process_was_killed_is_failed_by_the_next_run() -> None:
    # given: a run left "running" by a process on this host that no longer exists (SIGKILL)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    process = f"{socket.gethostname()}:{gone.stdout.strip()}"
    # when the next run of the model starts, then the stale run is failed
    assert_failed_by_the_next_run(process)
    assert list(TrainingRun.objects.order_by("pk").values_list("status", flat=True)) == ["failed", "failed"]


def assert_failed_by_the_next_run(process: str) -> None:
    """A run left "running" by `process` is failed, naming it, when the next run of the model starts
    (and fails on its own: no events)."""
    stale = TrainingRun.objects.create(model_name="churn", status=TrainingRun.Status.RUNNING, process=process)
    with pytest.raises(CommandError, match="training churn failed: no events in the graph"):
        call_command("train", "churn", verbosity=0)
    stale.refresh_from_db()
    assert (stale.status, stale.message) == ("failed", f"the process training it ({process}) stopped before it "
                                                       "finished")


def start_ticks(pid: int) -> int:
    """Field 22 of /proc/<pid>/stat, read here independently of the code under test."""
    after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(after_name[19])


@pytest.mark.django_db
def test_a_run_whose_pid_now_belongs_to_a_later_process_is_failed_by_the_next_run() -> None:
    # given: a run left "running" by a process whose pid a later process now holds (this one, which
    # started at another time than the one recorded)
    process = f"{socket.gethostname()}:{os.getpid()}:{start_ticks(os.getpid()) - 1}"
    # when the next run of the model starts, then the stale run is failed, naming the process it recorded
    assert_failed_by_the_next_run(process)


@pytest.mark.django_db
def test_a_run_whose_process_is_alive_with_the_recorded_start_time_is_left_running() -> None:
    # given: a run recorded by a live process (this one, its pid and start time as they are)
    alive = TrainingRun.objects.create(model_name="churn", status=TrainingRun.Status.RUNNING,
                                       process=f"{socket.gethostname()}:{os.getpid()}:{start_ticks(os.getpid())}")
    # when another run of the model is asked for, then it is refused and the live run is left alone
    with pytest.raises(CommandError) as refused:
        call_command("train", "churn", verbosity=0)
    assert refused.value.returncode == 2
    alive.refresh_from_db()
    assert alive.status == "running"


@pytest.mark.django_db
def test_a_run_on_another_host_is_left_to_its_host() -> None:
    other = TrainingRun.objects.create(model_name="churn", status=TrainingRun.Status.RUNNING,
                                       process="elsewhere.example:1")
    with pytest.raises(CommandError) as refused:
        call_command("train", "churn", verbosity=0)
    assert refused.value.returncode == 2
    other.refresh_from_db()
    assert other.status == "running"


def run_row(database: Path, run_id: int) -> tuple[str, str]:
    with sqlite3.connect(database) as db:
        return db.execute("select status, message from propensity_trainingrun where id = ?", (run_id,)).fetchone()


def run_ids(database: Path) -> list[int]:
    with sqlite3.connect(database) as db:
        return [row[0] for row in db.execute("select id from propensity_trainingrun order by id")]


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "reason"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "Ctrl-C (SIGINT)")])
def test_an_interrupted_foreground_run_is_failed_and_a_second_one_meanwhile_exits_with_2(
        tmp_path: Path, signum: int, reason: str) -> None:
    # given: a real `manage.py train` process reading its data from a FIFO nobody writes, so it waits
    database = tmp_path / "db.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GRAPH_", "DATABASE_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "journeyhub.settings.test", "DATABASE_URL": f"sqlite:///{database}",
                "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp_path)})
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=180)
    fifo = tmp_path / "touchpoints.tsv"
    os.mkfifo(fifo)
    command = [sys.executable, "manage.py", "train", "next_touchpoint", "--data", str(fifo)]
    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(first, f"reading {fifo}")
        [run_id] = run_ids(database)
        assert run_row(database, run_id)[0] == "running"
        # when a second run of the same model starts meanwhile
        second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        # then it is refused, naming the run
        assert second.returncode == 2
        assert (f"next_touchpoint is already being trained: run {run_id} is running (started by manage.py train)"
                in second.stderr)
        # when the first is interrupted
        first.send_signal(signum)
        assert first.wait(timeout=60) != 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    # then its run is failed with what stopped it, and nothing else was recorded
    assert run_row(database, run_id) == ("failed", f"interrupted by {reason} before it finished")
    assert run_ids(database) == [run_id]
