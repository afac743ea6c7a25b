"""Real processes for the fault tests: the hub under gunicorn, graphserver, the job worker, and a steady
load of decisions. Every wait is on a process's output or on answers arriving, with a deadline."""
from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.processes import wait_for

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hub_env(tmp: Path, **overrides: str) -> dict[str, str]:
    """The production settings on loopback (plain HTTP), with the test's own database, stores and folders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GRAPH_", "DATABASE_", "JOB"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "journeyhub.settings.production", "PYTHONUNBUFFERED": "1",
        "SECRET_KEY": "fault-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false", "LOG_FORMAT": "text",
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}", "GRAPH_URL": f"embedded://{tmp / 'graph'}",
        "ARTIFACTS_DIR": str(tmp / "artifacts"), "EVENTS_STORE_URL": str(tmp / "events"),
        "JOB_UPLOAD_DIR": str(tmp / "uploads"), "TMPDIR": str(tmp),
    })
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    if check:
        assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def api_key(env: dict[str, str], *scopes: str) -> str:
    made = manage(env, "create_api_key", "fault-test", *[a for s in scopes for a in ("--scope", s)])
    return made.stdout.strip().splitlines()[-1].split()[-1]


def start(env: dict[str, str], *command: str) -> subprocess.Popen[str]:
    """A process in its own group (so a kill reaches its children), output merged for `wait_for`."""
    return subprocess.Popen(list(command), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def start_web(env: dict[str, str], port: int, *, threads: int = 4) -> subprocess.Popen[str]:
    process = start({**env, "WEB_PORT": str(port), "WEB_WORKERS": "1", "WEB_THREADS": str(threads)},
                    sys.executable, "-m", "gunicorn", "journeyhub.wsgi", "--config", "journeyhub/gunicorn.conf.py",
                    "--access-logfile", "/dev/null")
    wait_for(process, f"Listening at: http://127.0.0.1:{port}", "Booting worker")
    return process


def start_graphserver(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    process = start(env, sys.executable, "manage.py", "graphserver", "--host", "127.0.0.1", "--port", str(port))
    wait_for(process, "Gremlin server listening on")
    return process


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM, deadline_s: float = 60) -> int:
    """Signal the process's group and wait for the process to exit; its exit code."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
    return process.wait(timeout=deadline_s)


@dataclass(frozen=True)
class Answer:
    n: int
    at: float  # time.monotonic() when the answer arrived
    status: int  # HTTP status; 0: no answer (connection refused or reset)
    body: dict[str, Any]


Send = Callable[[int], tuple[int, dict[str, Any]]]


class Load:
    """Calls `send(n)` at a steady rate from a few threads until stopped; each answer is recorded, and a
    test waits on them (`wait_until`) instead of sleeping."""

    def __init__(self, send: Callable[[], Send], *, rate: float = 40, threads: int = 4) -> None:
        self.make_sender, self.rate, self.threads = send, rate, threads
        self.answers: list[Answer] = []
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self._counter = itertools.count()
        self._workers = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Load:
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        for worker in self._workers:
            worker.join(timeout=60)

    def _run(self) -> None:
        send = self.make_sender()  # one per thread (a keep-alive connection each)
        interval = self.threads / self.rate
        while not self.stopping.wait(interval):  # pacing of the load, not a wait for the system under test
            n = next(self._counter)
            status, body = send(n)
            with self.changed:
                self.answers.append(Answer(n, time.monotonic(), status, body))
                self.changed.notify_all()

    def wait_until(self, predicate: Callable[[list[Answer]], bool], what: str, deadline_s: float = 90) -> None:
        end = time.monotonic() + deadline_s
        with self.changed:
            while not predicate(self.answers):
                left = end - time.monotonic()
                if left <= 0:
                    last = [(a.status, a.body.get("source", "")) for a in self.answers[-10:]]
                    raise AssertionError(f"waited {deadline_s:.0f} s for {what}; last answers {last}")
                self.changed.wait(left)


def http_sender(port: int, key: str, body: Callable[[int], tuple[str, dict[str, Any]]]) -> Callable[[], Send]:
    """POSTs `body(n)` (path, JSON) to the hub with the key, over one keep-alive connection per thread."""
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}

    def make() -> Send:
        connection: http.client.HTTPConnection | None = None

        def send(n: int) -> tuple[int, dict[str, Any]]:
            nonlocal connection
            path, payload = body(n)
            try:
                connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("POST", path, json.dumps(payload), headers)
                response = connection.getresponse()
                raw = response.read()
                return response.status, json.loads(raw) if raw.startswith(b"{") else {}
            except (OSError, http.client.HTTPException):
                if connection is not None:
                    connection.close()
                connection = None
                return 0, {}
        return send
    return make


def unread_output(process: subprocess.Popen[str]) -> str:
    """What the process printed that no `wait_for` has read yet (for failure messages)."""
    lines = getattr(process, "output_lines", None)
    return "".join(lines.queue) if lines is not None else ""
