"""`manage.py graphserver`: serves the GRAPH_URL store, refuses non-embedded URLs, shuts down cleanly."""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from gremlin_python.process.traversal import T

import graph

ROOT = Path(django_settings.BASE_DIR)
STARTUP_DEADLINE_S = 30


def test_refuses_to_serve_a_remote_graph_url(settings) -> None:  # type: ignore[no-untyped-def]
    settings.GRAPH_URL = "ws://127.0.0.1:8182/gremlin"
    with pytest.raises(CommandError, match="graphserver serves an embedded store, but GRAPH_URL is 'ws://"):
        call_command("graphserver", "--port", "0")


def test_a_cpu_wake_latency_that_is_not_microseconds_stops_it_before_the_store_opens(settings, monkeypatch,
                                                                                    tmp_path: Path) -> None:
    settings.GRAPH_URL = f"embedded://{tmp_path / 'store'}"
    monkeypatch.setenv("CPU_WAKE_LATENCY_US", "low")
    with pytest.raises(CommandError, match="CPU_WAKE_LATENCY_US='low': give whole microseconds"):
        call_command("graphserver", "--port", "0")
    assert not (tmp_path / "store").exists()


def _lines(stream: object, sink: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        sink.put(line)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serves_the_store_and_closes_it_on_signal(tmp_path: Path, signum: signal.Signals) -> None:
    # given graphserver started on a durable store and a free port
    store_dir = tmp_path / "store"
    env = {**os.environ, "GRAPH_URL": f"embedded://{store_dir}", "DJANGO_SETTINGS_MODULE": "journeyhub.settings.test"}
    process = subprocess.Popen([sys.executable, "manage.py", "graphserver", "--port", "0"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, output), daemon=True).start()
    try:
        url = _announced_url(output)
        # when a client writes through it and the server is signalled
        connection = graph.connect(url)
        try:
            connection.g.add_v("customer").property(T.id, "customer:1").property("last_seen", 1_700_000_000_000) \
                .iterate()
        finally:
            connection.close()
        process.send_signal(signum)
        assert process.wait(timeout=STARTUP_DEADLINE_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
    # then it said so, released the store's lock and the write is durable
    remaining = "".join(output.get() for _ in range(output.qsize()))
    assert "store closed" in remaining
    reopened = graph.connect(f"embedded://{store_dir}")
    try:
        assert reopened.g.V("customer:1").values("last_seen").to_list() == [1_700_000_000_000]
    finally:
        reopened.close()


def _announced_url(output: queue.Queue[str]) -> str:
    """Wait for the `GRAPH_URL=ws://…` line the command prints once it listens."""
    seen = []
    while True:
        try:
            line = output.get(timeout=STARTUP_DEADLINE_S)
        except queue.Empty:
            pytest.fail(f"graphserver printed no URL within {STARTUP_DEADLINE_S} s: {''.join(seen)}")
        seen.append(line)
        if line.strip().startswith("GRAPH_URL=ws://"):
            return line.strip().removeprefix("GRAPH_URL=")


def test_refuses_a_public_address_without_credentials(settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # given no credentials in the environment
    settings.GRAPH_URL = "embedded://memory"
    monkeypatch.delenv("GRAPHSERVER_USERNAME", raising=False)
    monkeypatch.delenv("GRAPHSERVER_PASSWORD", raising=False)
    # when the server is asked to listen on every interface, then it refuses before listening
    with pytest.raises(CommandError, match="refusing to serve 0.0.0.0 without authentication: set "
                                           "GRAPHSERVER_USERNAME and GRAPHSERVER_PASSWORD"):
        call_command("graphserver", "--host", "0.0.0.0", "--port", "0")


def test_refuses_half_a_set_of_credentials_and_a_missing_certificate(settings, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.GRAPH_URL = "embedded://memory"
    monkeypatch.setenv("GRAPHSERVER_USERNAME", "analyst")
    monkeypatch.delenv("GRAPHSERVER_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="set both GRAPHSERVER_USERNAME and GRAPHSERVER_PASSWORD, or neither"):
        call_command("graphserver", "--port", "0")
    monkeypatch.setenv("GRAPHSERVER_PASSWORD", "pw")
    with pytest.raises(CommandError, match="No such file"):
        call_command("graphserver", "--port", "0", "--certfile", str(tmp_path / "missing.pem"))
