"""The throw-away hubs the benchmarks build, serve and load, in one place.

Two kinds: a hub served over HTTP on loopback for the decision benchmarks (`served_hub`: SQLite in WAL
mode, durable embedded store, intent and risk models trained on the shared data, callers' history
seeded, gunicorn or granian in front, the decision log's background writer on, as production runs
it), and an in-process hub for the model benchmarks (`in_process_hub`: in-memory store and SQLite,
demo customers ingested). Also the open-loop load against a served hub and the figures every
benchmark reports (CPU from /proc, percentiles, the results file).
"""
from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import openloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SQLITE_OPTIONS = "?init_command=" + quote("PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;")


# ---------------------------------------------------------------- a hub served on loopback


def server_arguments(parser: argparse.ArgumentParser) -> None:
    """What serves the hub and how the load reaches it: the options both decision benchmarks take."""
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--server", default="granian", choices=["gunicorn", "granian"],
                        help="granian (Rust HTTP, what `make serve` runs for the web process) or gunicorn gthread")
    parser.add_argument("--fast-path", default="on", choices=["on", "off"],
                        help="DECISIONS_FAST_PATH in the server (off: every request through the middleware and DRF)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="threads per worker (scripts/web.sh: 2 under granian)")
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--clients", type=int, default=32, help="keep-alive connections of the load generator")
    parser.add_argument("--cpu-wake-latency", type=int, default=None, metavar="US",
                        help="CPU_WAKE_LATENCY_US in the server (0: idle CPUs poll; needs root); unset by default")


def environment(workdir: Path) -> dict[str, str]:
    """SQLite in WAL mode with synchronous=NORMAL: a commit costs ~1 ms instead of an fsync (~15-20 ms
    here); with PostgreSQL (DATABASE_URL) this is the server's business. The decision log is written by
    its background writer (DECISIONS_LOG_ASYNC), as a production hub would run it."""
    return {"DJANGO_SETTINGS_MODULE": "journeyhub.settings.local", "DEBUG": "false",
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}{SQLITE_OPTIONS}",
            "GRAPH_URL": f"embedded://{workdir / 'graph'}",
            "ARTIFACTS_DIR": str(workdir / "artifacts"), "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING", "DECISIONS_LOG_ASYNC": "true",
            # one API key sends every request: the per-key budgets are not what is measured
            "API_THROTTLE_DECIDE_RATE": "100000/s", "API_THROTTLE_RATE": "1000000/min"}


def call_durations(count: int, seed: int) -> list[int]:
    """Durations for the seeded calls, drawn from the fraud data set's: a contact centre's calls have
    one, and with them the risk model scores every known caller as it would in production (without
    them each risk decision was the rules' alone, and the benchmark left the model's cost out)."""
    import pandas as pd
    from django.conf import settings

    frame = pd.read_csv(Path(settings.DATA_DIR) / "fraud_calls" / "train.csv", usecols=["call_duration"])
    known = [int(d) for d in frame["call_duration"].dropna() if d >= 0]
    rng = random.Random(seed)
    return [rng.choice(known) for _ in range(count)]


def prepare(customers: int, seed: int) -> tuple[str, list[str]]:
    """Migrate, train both models, seed callers' history; returns an API key and the callers' phones."""
    import django
    from django.core.management import call_command

    django.setup()
    from django.conf import settings

    import graph
    from apps.core.models import ApiKey
    from apps.decisions.modeling.intent import read_interactions
    from apps.decisions.replay import phone_for, seed_history

    call_command("migrate", verbosity=0)
    for name in ("intent", "risk"):
        call_command("train", name, stdout=open(os.devnull, "w"))  # noqa: SIM115 - quiet training output
    calls = read_interactions(Path(settings.DATA_DIR) / "intents" / "interactions.csv")
    chosen = sorted(random.Random(seed).sample(sorted(set(calls["customer_id"])), customers))
    calls["duration_s"] = call_durations(len(calls), seed)
    seeded = seed_history(calls, set(chosen))
    print(f"seeded {seeded} calls of {len(chosen)} callers", file=sys.stderr)
    _, key = ApiKey.issue("benchmark", scopes=["decide"])
    graph.reset_connection()  # close the store: the server's worker opens it next
    return key, [phone_for(c) for c in chosen]


@dataclass
class ServedHub:
    workdir: Path
    port: int
    key: str
    phones: list[str]
    server: subprocess.Popen[bytes]
    graph_server: subprocess.Popen[str] | None

    def pids(self) -> list[int]:
        """The server, its workers and graphserver: whose CPU the figures count."""
        return [self.server.pid, *children(self.server.pid)] + ([self.graph_server.pid] if self.graph_server else [])


@contextmanager
def served_hub(args: argparse.Namespace, prefix: str,
               add_history: Callable[[list[str]], None] | None = None) -> Iterator[ServedHub]:
    """A hub built in a temp dir and served on 127.0.0.1; stopped (its log writer draining) on exit.
    `add_history` writes more of the callers' history (given their phones) before the server starts.
    What preparing left in this process is frozen, so the load generator's collector never walks it."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    # removed when the benchmark ends, not when the server stops: a caller may read the hub's database
    # after that (benchmarks/sustained.py counts the decision log's rows)
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    env = environment(workdir)
    os.environ.update(env)
    key, phones = prepare(args.customers, seed=5)
    if add_history is not None:
        import graph

        add_history(phones)
        graph.reset_connection()  # the server's worker opens the store next
    gc.collect()
    gc.freeze()
    port = free_port()
    if args.cpu_wake_latency is not None:  # the web worker and graphserver hold it (journeyhub.long_lived)
        env["CPU_WAKE_LATENCY_US"] = str(args.cpu_wake_latency)
    graph_server = None
    if args.workers > 1:  # one process owns the embedded store; several workers reach it over ws://
        graph_server, env["GRAPH_URL"] = start_graph_server(env)
    server = start_server(env, port, args)
    try:
        hub = ServedHub(workdir, port, key, phones, server, graph_server)
        settle(hub.pids())
        yield hub
    finally:
        for process in (server, graph_server):
            if process is not None:
                process.terminate()  # the worker's decision-log writer writes what it holds as it exits
                process.wait(timeout=60)


def settle(pids: list[int], quiet_share: float = 0.05, limit_s: float = 90.0) -> None:
    """Wait until the server is idle (under 5 % of a core over half a second): a web process warms its
    analytics and builds the journey table in the background after it starts, and that work would
    otherwise be counted against the first requests measured."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = cpu_seconds(pids)
        time.sleep(0.5)
        if cpu_seconds(pids) - before < 0.5 * quiet_share:
            return
    print(f"the server was still busy {limit_s:.0f} s after it started; measuring anyway", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _allocator() -> str:
    """The wrapper production starts the web process and graphserver through (jemalloc when installed)."""
    return str(ROOT / "scripts" / "with_allocator.sh")


def allocator_of(pids: list[int]) -> str:
    """Which malloc the server processes run on, from their memory maps: "jemalloc" or "system"."""
    for pid in pids:
        try:
            if "libjemalloc" in Path(f"/proc/{pid}/maps").read_text():
                return "jemalloc"
        except OSError:
            continue
    return "system"


def start_server(env: dict[str, str], port: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    if args.server == "granian":
        command = [_allocator(), sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1",
                   "--port", str(port),
                   "--workers", str(args.workers), "--blocking-threads", str(args.threads), "--runtime-threads", "1",
                   "--no-ws", "--log-level", "warning", "journeyhub.wsgi:application"]
    else:
        command = [_allocator(), sys.executable, "-m", "gunicorn", "journeyhub.wsgi:application",
                   "--bind", f"127.0.0.1:{port}",
                   "--workers", str(args.workers), "--threads", str(args.threads), "--worker-class", args.worker_class,
                   "--keep-alive", "30", "--log-level", "warning"]
    fast = {"DECISIONS_FAST_PATH": "true" if args.fast_path == "on" else "false"}
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env, **fast})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{args.server} did not start within 60 s")


def start_graph_server(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([_allocator(), sys.executable, "manage.py", "graphserver", "--port", "0"], cwd=ROOT,
                               env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout or []:
        if line.strip().startswith("GRAPH_URL=ws://"):
            threading.Thread(target=lambda: [None for _ in process.stdout or []], daemon=True).start()
            return process, line.strip().removeprefix("GRAPH_URL=")
    process.kill()
    raise SystemExit("graphserver did not announce its URL")


def request_body(n: int, phones: list[str], rng: random.Random) -> tuple[str, dict[str, Any]]:
    """Request n of the decision load: half intent, half risk, one in ten from an unknown number."""
    phone = phones[rng.randrange(len(phones))] if rng.random() >= 0.1 else f"+1666{rng.randrange(10**7):07d}"
    if n % 2 == 0:
        return "/api/decisions/intent", {"phone": phone, "contact_id": f"bench-{n}", "channel": "VOICE"}
    return "/api/decisions/risk", {"phone": phone, "email": f"user{n % 997}@example.com", "contact_id": f"bench-{n}"}


@dataclass
class Stage:
    """One kind of load at one rate, sent in one or more parts (`send`): the parts' answers, the server's
    and the generator's CPU and the generator's collector pauses, added up."""

    rate: float
    reference: bool = False  # `GET /api/ping` instead of decisions
    outcome: openloop.Outcome = field(default_factory=openloop.Outcome)
    seconds: float = 0.0
    sent: int = 0
    server_cpu_s: float = 0.0
    pauses: list[float] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(11))


def send(hub: ServedHub, stage: Stage, seconds: float, clients: int, pids: list[int]) -> None:
    """One part of `stage`: `stage.rate` requests a second for `seconds`, open loop (openloop.run)."""
    first = stage.sent

    def call(n: int) -> openloop.Call:
        if stage.reference:
            return openloop.Call("GET", "/api/ping")
        path, body = request_body(first + n, hub.phones, stage.rng)
        return openloop.Call("POST", path, json.dumps(body).encode())

    headers = {"Authorization": f"Api-Key {hub.key}", "Content-Type": "application/json"}
    server_cpu = cpu_seconds(pids)
    with collector_pauses() as pauses:
        part = openloop.run(hub.port, headers, call, rate=stage.rate, seconds=seconds, connections=clients)
    stage.server_cpu_s += cpu_seconds(pids) - server_cpu
    stage.pauses += pauses
    stage.seconds += seconds
    stage.sent += int(stage.rate * seconds)
    merged = stage.outcome
    merged.results += part.results
    merged.late_s += part.late_s
    merged.elapsed_s += part.elapsed_s
    merged.client_cpu_s += part.client_cpu_s
    merged.loop, merged.timer = part.loop, part.timer


def figures(stage: Stage) -> dict[str, Any]:
    """The figures every decision benchmark reports for a stage."""
    outcome = stage.outcome
    results, total = outcome.results, max(len(outcome.results), 1)
    return {"rate": stage.rate, "seconds": stage.seconds, "requests": len(results),
            "achieved_rate": round(len(results) / outcome.elapsed_s, 1) if outcome.elapsed_s else 0.0,
            "errors": sum(1 for _, _, s in results if s != 200),
            "error_statuses": sorted({s for _, _, s in results if s != 200}),
            "server_cpu_ms_per_request": round(stage.server_cpu_s * 1000 / total, 3),
            "client_cpu_ms_per_request": round(outcome.client_cpu_s * 1000 / total, 3),
            "client_loop": outcome.loop, "client_timer": outcome.timer,
            # how late the generator itself sent each request: part of every latency above
            "send_lateness_ms": stats([late * 1000 for late in outcome.late_s]),
            "all": stats([ms for _, ms, _ in results]),
            "intent": stats([ms for p, ms, _ in results if p.endswith("intent")]),
            "risk": stats([ms for p, ms, _ in results if p.endswith("risk")]),
            "over_50_ms": sum(1 for _, ms, _ in results if ms > 50),
            "load_generator_gc_pause_max_ms": round(max(stage.pauses, default=0.0), 2)}


def open_loop(hub: ServedHub, rate: float, seconds: float, clients: int, pids: list[int],
              reference: bool = False) -> tuple[dict[str, Any], openloop.Outcome]:
    """Send rate*seconds decisions at their scheduled times (latency counts from the scheduled time);
    `reference` sends `GET /api/ping` instead: the framework and API-key cost alone, on the same machine
    at the same moment, so a reader can tell the code's cost from the machine's state. The stage's
    figures, and the raw outcome."""
    stage = Stage(rate, reference)
    send(hub, stage, seconds, clients, pids)
    return figures(stage), stage.outcome


@contextmanager
def collector_pauses() -> Iterator[list[float]]:
    """The load generator's own garbage-collector pauses (ms) while the block runs, with automatic
    collection off: a pause delays every request scheduled during it, which the latencies would otherwise
    blame on the server (an explicit collection elsewhere in the process would still be counted)."""
    pauses: list[float] = []
    started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((time.perf_counter() - started[0]) * 1000)

    gc.callbacks.append(on_gc)
    gc.disable()  # a run's garbage is a few tens of thousands of objects: collected after it, not during
    try:
        yield pauses
    finally:
        gc.enable()
        gc.callbacks.remove(on_gc)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of other processes (Linux /proc)."""
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (the server's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


# ---------------------------------------------------------------- an in-process hub


def in_process_hub() -> None:
    """Django on the test settings (in-memory store and SQLite) with a temp artifacts folder, migrated."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeyhub.settings.test")
    os.environ.setdefault("ARTIFACTS_DIR", tempfile.mkdtemp(prefix="jh-bench-artifacts-"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def demo_records(customers: int) -> list[dict[str, Any]]:
    """The first `customers` demo customers' events (from the shared data set)."""
    from django.conf import settings

    from apps.demo.dataset import build_demo_events

    return list(build_demo_events(shared_data_dir=Path(settings.DATA_DIR), customers=customers))


def ingest(records: list[dict[str, Any]]) -> None:
    from apps.ingest.services import ingest_records

    ingest_records(records=records, source="bench:demo")


def latencies(fn: Callable[[str], Any], ids: list[str]) -> dict[str, float]:
    """Wall-clock percentiles of `fn` over `ids`, and CPU time's (less sensitive to a busy machine)."""
    wall, cpu = [], []
    for cid in ids:
        start, start_cpu = time.perf_counter(), time.process_time()
        fn(cid)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return {"p50_ms": round(percentile(wall, 0.5), 2), "p95_ms": round(percentile(wall, 0.95), 2),
            "p99_ms": round(percentile(wall, 0.99), 2), "cpu_p50_ms": round(percentile(cpu, 0.5), 2),
            "cpu_p99_ms": round(percentile(cpu, 0.99), 2), "n": len(wall)}


# ---------------------------------------------------------------- figures


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stats(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {}
    ordered = sorted(latencies)
    return {"p50_ms": round(percentile(ordered, 0.5), 2), "p90_ms": round(percentile(ordered, 0.9), 2),
            "p99_ms": round(percentile(ordered, 0.99), 2), "max_ms": round(ordered[-1], 2)}


def write_results(result: dict[str, Any], out: str | Path) -> None:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
