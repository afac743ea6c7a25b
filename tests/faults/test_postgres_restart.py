"""PostgreSQL restarted while decisions flow: every decision the hub answered has its log row.

The hub runs under gunicorn with the decision log written by its background writer
(DECISIONS_LOG_ASYNC), which gathers rows for a quarter second and writes them in one insert. A
PostgreSQL of the test's own (PGTEST_PORT 54339, /tmp/journeyhub-postgres-fault; never the suite's
shared one) is restarted in the middle of the load; afterwards the hub is stopped as an operator
would (SIGTERM: its writer flushes what is queued) and the rows are counted.
"""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.faults.hub import (
    ROOT,
    Answer,
    Load,
    api_key,
    free_port,
    http_sender,
    hub_env,
    manage,
    start_web,
    stop,
    unread_output,
)

pytestmark = [pytest.mark.fault, pytest.mark.slow]
PORT = os.environ.get("FAULT_PGTEST_PORT", "54339")
DIR = os.environ.get("FAULT_PGTEST_DIR", "/tmp/journeyhub-postgres-fault")
DATABASE = "journeyhub_fault"


def pg_ctl(*args: str) -> None:
    binary = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))[-1]
    owner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    # the server log goes to a file (-l): a server holding our pipe open would keep run() waiting
    subprocess.run([*owner, str(binary), "-D", DIR, *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=120)


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A PostgreSQL server of this test's own, with an empty database; skipped only where PostgreSQL cannot
    be installed (not root and not installed), never otherwise."""
    started = subprocess.run(["./scripts/start_postgres.sh"], cwd=ROOT, capture_output=True, text=True, timeout=600,
                             env={**os.environ, "PGTEST_PORT": PORT, "PGTEST_DIR": DIR})
    if started.returncode != 0 and "PostgreSQL is missing" in started.stderr:
        pytest.skip(started.stderr.strip())
    assert started.returncode == 0, started.stderr
    server = f"postgresql://postgres@127.0.0.1:{PORT}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    yield f"{server}/{DATABASE}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    pg_ctl("stop", "-m", "fast")  # nothing of the test's keeps running after it


def intent(n: int) -> tuple[str, dict]:
    return "/api/decisions/intent", {"phone": f"+614990{n % 1000:05d}", "contact_id": f"pg-{n}"}


def ok(answers: list[Answer]) -> int:
    return sum(1 for a in answers if a.status == 200)


def test_a_postgres_restart_mid_load_loses_no_decision_log_row(postgres, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # given the hub on PostgreSQL, answering decisions at 40 a second
    env = hub_env(tmp_path, DATABASE_URL=postgres, DECISIONS_LOG_ASYNC="true")
    manage(env, "migrate", "--noinput")
    key = api_key(env, "decide")
    port = free_port()
    web = start_web(env, port)
    try:
        with Load(http_sender(port, key, intent), rate=40) as load:
            load.wait_until(lambda a: ok(a) >= 80, "80 decisions before the restart")

            # when PostgreSQL restarts in the middle of the load
            restarted_at = len(load.answers)
            pg_ctl("restart", "-m", "fast", "-w", "-t", "60", "-l", f"{DIR}/server.log")

            # then decisions are answered again afterwards
            load.wait_until(lambda a: ok(a[restarted_at:]) >= 80, "80 decisions after the restart")
        answered = {f"pg-{a.n}" for a in load.answers if a.status == 200}
    finally:
        exit_code = stop(web)  # SIGTERM: the worker's decision-log writer writes what it still holds
    output = unread_output(web)

    # and every decision the hub answered is in the log, once; none that it did not answer
    with psycopg.connect(postgres) as db:
        logged = [row[0] for row in db.execute("SELECT contact_id FROM decisions_decisionlog")]
    assert exit_code == 0, output[-3000:]
    assert len(logged) == len(set(logged))
    assert set(logged) == answered, f"lost: {sorted(answered - set(logged))[:10]}\n{output[-3000:]}"
    assert len(answered) >= 160
