"""The production stack on one machine, as an operator starts it: `scripts/serve.sh` (honcho running
graphserver, granian and the job worker with the production settings), then real HTTP on loopback."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stack_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "GRAPH_", "DATABASE_", "MEMORY_ALLOCATOR", "LD_PRELOAD"))}
    env.update({
        "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        "DJANGO_SETTINGS_MODULE": "journeyhub.settings.production",
        "SECRET_KEY": "stack-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false",
        "WEB_PORT": str(free_port()), "GRAPH_PORT": str(free_port()), "WEB_WORKERS": "2", "WEB_THREADS": "2",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "GRAPH_URL": f"embedded://{tmp_path / 'graph'}",
        "ARTIFACTS_DIR": str(tmp_path / "artifacts"), "EVENTS_STORE_URL": str(tmp_path / "events"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"), "METRICS_TOKEN": "scrape-token",
        "MEMORY_ALLOCATOR": "jemalloc",
    })
    return env




@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    env = stack_env(tmp_path)
    Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir()
    migrated = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    made = subprocess.run([sys.executable, "manage.py", "create_api_key", "crm", "--scope", "ingest", "--scope",
                           "read"], cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=60)
    key = made.stdout.strip().splitlines()[-1].split()[-1]
    process = subprocess.Popen(["./scripts/serve.sh"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_for(process, f"Listening at: http://127.0.0.1:{env['WEB_PORT']}", "Gremlin server listening on",
                 "Q Cluster",  # the job worker
                 *(f"Started worker-{n + 1}" for n in range(int(env["WEB_WORKERS"]))))  # granian's workers ready
        yield f"http://127.0.0.1:{env['WEB_PORT']}", key, env
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def processes_with(*words: str) -> list[int]:
    """The processes whose command line holds every one of `words` as an argument."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0") if entry.name.isdigit() else []
        except OSError:  # gone meanwhile
            continue
        if args and all(word in args for word in words):
            found.append(int(entry.name))
    return found


def malloc_of(pid: int) -> str:
    return "jemalloc" if "libjemalloc" in Path(f"/proc/{pid}/maps").read_text() else "system"


def call(url: str, *, data: object = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_stack_serves_health_ingest_reads_and_metrics_through_graphserver(stack) -> None:  # type: ignore[no-untyped-def]
    base, key, env = stack
    auth = {"Authorization": f"Api-Key {key}"}

    status, body = call(f"{base}/healthz")
    assert (status, json.loads(body)["status"]) == (200, "ok")
    # graphserver and the web process start through scripts/with_allocator.sh (MEMORY_ALLOCATOR=jemalloc here)
    graph, web = processes_with("graphserver", env["GRAPH_PORT"]), processes_with("granian", env["WEB_PORT"])
    assert len(graph) == 1 and len(web) >= 1  # granian's workers carry its command line too
    assert {pid: malloc_of(pid) for pid in graph + web} == dict.fromkeys(graph + web, "jemalloc")

    event = {"event_id": "s1", "customer_id": "c-stack", "event_type": "call", "channel": "voice",
             "timestamp": "2026-02-01T00:00:00Z"}
    status, body = call(f"{base}/api/events", data=[event], headers=auth)
    assert status == 201 and json.loads(body)["loaded"] == 1

    status, body = call(f"{base}/api/customers/c-stack/journey", headers=auth)
    assert status == 200
    assert [e["event_id"] for e in json.loads(body)["results"]] == ["s1"]

    status, body = call(f"{base}/metrics", headers={"Authorization": "Bearer scrape-token"})
    assert status == 200
    text = body.decode()
    assert 'journeyhub_ingest_rows_total{outcome="loaded"} 1.0' in text
    assert 'journeyhub_graph_call_seconds_count{backend="remote",outcome="ok"}' in text
    assert Path(env["PROMETHEUS_MULTIPROC_DIR"]).is_dir()
