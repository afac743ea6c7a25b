"""A job worker killed in the middle of an upload's ingest: the job runs again on the next worker and the
graph and the event store end exactly as if nothing had happened (`events_store check` finds no
difference). Real processes: graphserver owning the store, `qcluster` workers reaching it over ws://."""
from __future__ import annotations

import signal
import sqlite3
import sys
from datetime import UTC, datetime

import pytest

from tests.faults.hub import free_port, manage, start, start_graphserver, stop
from tests.processes import wait_for

pytestmark = [pytest.mark.fault, pytest.mark.slow]
CUSTOMERS, EVENTS_EACH, CHUNK = 300, 10, 150
QUEUE_UPLOAD = """
from pathlib import Path
from apps.ingest import tasks
job = tasks.queue_upload(chunks=[Path({path!r}).read_bytes()], name="calls.csv", fmt="csv")
print("JOB", job.pk, job.label)
"""
COUNT_GRAPH = """
import graph
g = graph.get_g()
print("GRAPH", g.V().hasLabel("customer").count().next(), g.V().hasLabel("event").count().next(),
      g.E().hasLabel("performed").count().next(), g.E().hasLabel("next").count().next())
"""


def events_csv() -> str:
    start = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())
    rows = ["customer_id,event_id,event_type,channel,timestamp"]
    for n in range(CUSTOMERS * EVENTS_EACH):
        customer, step = n % CUSTOMERS, n // CUSTOMERS
        rows.append(f"c{customer},e{n},{('web_visit', 'call', 'chat')[step % 3]},web,{start + step * 3600 + customer}")
    return "\n".join(rows) + "\n"


def test_a_worker_killed_mid_ingest_leaves_graph_and_event_store_exact_after_the_rerun(hub, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # given an upload of 3,000 events queued as a job, a worker loading it chunk by chunk through graphserver
    env, _ = hub
    graph_port = free_port()
    env.update(JOBS_SYNC="false", JOB_WORKERS="1", JOB_TIMEOUT="25", JOB_RETRY_SECONDS="27",
               INGEST_CHUNK_SIZE=str(CHUNK), INGEST_PARSE_PROCESS_BYTES="0", EVENTS_STORE_FLUSH_ROWS="600")
    graphserver = start_graphserver(env, graph_port)
    env["GRAPH_URL"] = f"ws://127.0.0.1:{graph_port}/gremlin"
    upload = tmp_path / "calls.csv"
    upload.write_text(events_csv())
    queued = manage(env, "shell", "-c", QUEUE_UPLOAD.format(path=str(upload)))
    _, job_id, label = next(line for line in queued.stdout.splitlines() if line.startswith("JOB ")).split(" ", 2)
    job = f"job {job_id} ({label})"
    workers = [start(env, sys.executable, "manage.py", "qcluster")]
    try:
        # when the worker is killed once 900 of the rows are in (some of them already in the event store)
        wait_for(workers[0], f"{job}: attempt 1 of 3", f"{6 * CHUNK} rows read")
        stop(workers[0], signal.SIGKILL)

        # and the next worker is handed the job
        workers.append(start(env, sys.executable, "manage.py", "qcluster"))
        wait_for(workers[1], f"{job}: attempt 2 of 3", deadline_s=120)
        wait_for(workers[1], f"{job} succeeded", deadline_s=120)
    finally:
        for worker in workers:
            stop(worker, signal.SIGKILL)
    try:
        # then the graph holds every customer, event and edge once
        counts = manage(env, "shell", "-c", COUNT_GRAPH).stdout
        total = CUSTOMERS * EVENTS_EACH
        assert next(line for line in counts.splitlines() if line.startswith("GRAPH ")) == (
            f"GRAPH {CUSTOMERS} {total} {total} {total - CUSTOMERS}")
        # and the event store equals it, day by day, event by event
        check = manage(env, "events_store", "check", check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        # and the killed attempt's batch says so, the next one took the rest and found the others in place
        with sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///")) as db:
            (first, first_loaded, _), (second, loaded, duplicates) = db.execute(
                "select status, loaded, duplicates from ingest_ingestbatch order by id").fetchall()
        assert (first, second, loaded + duplicates) == ("interrupted", "completed", total)
        assert duplicates >= first_loaded >= 6 * CHUNK
    finally:
        stop(graphserver)
