"""A customer's last 20 events: read latency in process (embedded) vs through `manage.py graphserver`.

Run: nice python benchmarks/graph_server.py [--events 100000] [--customers 5000] [--reads 2000] [--burst 200]
       [--store DIR]
Builds a durable store (or reuses the one at --store), serves it with `manage.py graphserver` in a
separate process (as web workers would reach it), times `graph.journeys.recent_events` through ws://,
then stops the server and times the same call on the store opened in process. Reads run in short
bursts; each read's wall time is kept, and each burst's CPU per read of the client and of the server
process (the sum of its threads' run time, /proc/<pid>/task/*/schedstat). CPU per read does not
depend on how busy the machine is the way wall time does, so the table gives the median burst and
the spread besides p50/p99/max wall. Prints a table and writes benchmarks/results/graph_server.json.
Target: p99 <= 3 ms through the server on an idle machine (was < 15 ms).
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeyhub.settings.test")

CHANNELS = ["web", "app", "voice", "chat", "email"]
TYPES = ["login", "view_offer", "search", "call", "chat", "apply", "complaint", "payment"]
START_MS = 1_767_225_600_000  # 2026-01-01
BATCH = 1000
TARGET_P99_MS = 3


def load(url: str, events: int, customers: int, seed: int) -> None:
    """Customers, events and performed edges in batched upserts (the shape ingest writes)."""
    from gremlin_python.process.traversal import Direction, T

    import graph

    connection = graph.connect(url)
    g = connection.g
    rng = random.Random(seed)
    rows = [{T.id: f"customer:c{c}", T.label: "customer", "customer_id": f"c{c}"} for c in range(customers)]
    for start in range(0, len(rows), BATCH):
        g.inject(rows[start:start + BATCH]).unfold().merge_v().iterate()
    for start in range(0, events, BATCH):
        vertices, edges = [], []
        for i in range(start, min(events, start + BATCH)):
            customer, ts = f"customer:c{rng.randrange(customers)}", START_MS + rng.randrange(90 * 86_400_000)
            vertices.append({T.id: f"event:b{i}", T.label: "event", "type": rng.choice(TYPES),
                             "channel": rng.choice(CHANNELS), "ts": ts, "source": "bench", "customer_id": customer[9:],
                             "attributes": "{}"})
            edges.append({T.label: "performed", Direction.OUT: customer, Direction.IN: f"event:b{i}", "ts": ts})
        g.inject(vertices).unfold().merge_v().iterate()
        g.inject(edges).unfold().merge_e().iterate()
    connection.close()


def process_cpu_s(pid: int) -> float:
    """CPU seconds another process has run, all its threads (Linux /proc, nanoseconds), to report CPU
    cost per read, which, unlike latency, does not depend on how busy the machine is."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):  # a thread that ended meanwhile
            continue
    return total / 1e9


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 3)


def _spread(values: list[float]) -> dict[str, float]:
    """Median, least and most of the bursts' CPU per read (ms)."""
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


def time_reads(url: str, customers: int, reads: int, burst: int, server_pid: int | None = None) -> dict[str, Any]:
    from django.conf import settings

    import graph
    from graph import journeys

    settings.GRAPH_URL = url
    graph.reset_connection()
    rng = random.Random(1)
    for _ in range(100):  # warm-up: connections, caches
        journeys.recent_events(f"c{rng.randrange(customers)}", 20)
    latencies: list[float] = []
    client_cpu: list[float] = []
    server_cpu: list[float] = []
    rows = 0
    for start in range(0, reads, burst):
        count = min(burst, reads - start)
        customers_ = [f"c{rng.randrange(customers)}" for _ in range(count)]
        cpu0, server_cpu0 = time.process_time(), process_cpu_s(server_pid) if server_pid else 0.0
        for customer in customers_:
            t0 = time.perf_counter()
            rows += len(journeys.recent_events(customer, 20))
            latencies.append((time.perf_counter() - t0) * 1000)
        client_cpu.append((time.process_time() - cpu0) * 1000 / count)
        if server_pid:
            server_cpu.append((process_cpu_s(server_pid) - server_cpu0) * 1000 / count)
    graph.reset_connection()
    return {"p50_ms": _percentile(latencies, 0.5), "p99_ms": _percentile(latencies, 0.99),
            "max_ms": round(max(latencies), 3), "rows_per_read": round(rows / reads, 1),
            "bursts": len(client_cpu), "reads_per_burst": burst,
            "client_cpu_ms_per_read": _spread(client_cpu),
            "server_cpu_ms_per_read": _spread(server_cpu) if server_cpu else None}


def start_server(store_dir: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "GRAPH_URL": f"embedded://{store_dir}"}
    process = subprocess.Popen([sys.executable, "manage.py", "graphserver", "--port", "0"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or []], daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic())).strip()
        if line.startswith("GRAPH_URL=ws://"):
            return process, line.removeprefix("GRAPH_URL=")
    process.kill()
    raise SystemExit("graphserver did not announce its URL within 60 s")


def timed(label: str, action: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    action()
    seconds = time.perf_counter() - t0
    print(f"{label}: {seconds:.1f} s", file=sys.stderr)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--reads", type=int, default=2_000)
    parser.add_argument("--burst", type=int, default=200, help="reads per burst (CPU is measured per burst)")
    parser.add_argument("--store", type=Path, help="an existing store directory to serve (no loading; kept)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "graph_server.json")
    args = parser.parse_args()

    import django

    django.setup()
    import graph

    load_before = round(os.getloadavg()[0], 2)
    store_dir = args.store or Path(tempfile.mkdtemp(prefix="jh-bench-server-")) / "graph"
    store_url = f"embedded://{store_dir}"
    load_s = 0.0
    if args.store is None:
        load_s = timed("load", lambda: load(store_url, args.events, args.customers, seed=7))
        graph.reset_connection()

    process, ws_url = start_server(store_dir)
    try:
        server = time_reads(ws_url, args.customers, args.reads, args.burst, server_pid=process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    embedded = time_reads(store_url, args.customers, args.reads, args.burst)

    result = {"events": args.events, "customers": args.customers, "reads": args.reads, "load_s": round(load_s, 1),
              "embedded": embedded, "server": server, "target_server_p99_ms": TARGET_P99_MS,
              "server_p99_within_target": server["p99_ms"] <= TARGET_P99_MS, "cpus": os.cpu_count(),
              "load_average_1m_before": load_before, "load_average_1m_after": round(os.getloadavg()[0], 2)}
    print(f"load average (1 min): {load_before} before, {result['load_average_1m_after']} after, "
          f"on {os.cpu_count()} CPUs; CPU per read: median burst [least, most]")
    print(f"{'path':<10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'rows':>6}"
          f"{'client CPU ms':>22}{'server CPU ms':>22}")
    for name in ("embedded", "server"):
        r = result[name]
        print(f"{name:<10}{r['p50_ms']:>9}{r['p99_ms']:>9}{r['max_ms']:>9}{r['rows_per_read']:>6}"
              f"{_cpu_cell(r['client_cpu_ms_per_read']):>22}{_cpu_cell(r['server_cpu_ms_per_read']):>22}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")


def _cpu_cell(spread: dict[str, float] | None) -> str:
    return "–" if spread is None else f"{spread['median']:.3f} [{spread['min']:.3f}, {spread['max']:.3f}]"


if __name__ == "__main__":
    main()
