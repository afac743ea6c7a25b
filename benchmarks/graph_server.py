"""A customer's last 20 events: read latency in process (embedded) vs through `manage.py graphserver`.

Run: python benchmarks/graph_server.py [--events 100000] [--customers 5000] [--reads 2000]
Builds a durable store, serves it with `manage.py graphserver` in a separate process (as web
workers would reach it), times `graph.journeys.recent_events` through ws://, then stops the server
and times the same call on the store opened in process. Prints a table and writes
benchmarks/results/graph_server.json. Target: p99 <= 3 ms through the server on an idle machine (was < 15 ms).
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

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
    """User + system CPU seconds of another process (Linux /proc), to report CPU cost per read, which,
    unlike latency, does not depend on how busy the machine is."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_reads(url: str, customers: int, reads: int, server_pid: int | None = None) -> dict[str, float]:
    from django.conf import settings

    import graph
    from graph import journeys

    settings.GRAPH_URL = url
    graph.reset_connection()
    rng = random.Random(1)
    for _ in range(100):  # warm-up: connections, caches
        journeys.recent_events(f"c{rng.randrange(customers)}", 20)
    latencies, rows = [], 0
    cpu0, server_cpu0 = time.process_time(), process_cpu_s(server_pid) if server_pid else 0.0
    for _ in range(reads):
        customer = f"c{rng.randrange(customers)}"
        t0 = time.perf_counter()
        rows += len(journeys.recent_events(customer, 20))
        latencies.append((time.perf_counter() - t0) * 1000)
    cpu_ms = (time.process_time() - cpu0) * 1000 / reads
    server_cpu_ms = (process_cpu_s(server_pid) - server_cpu0) * 1000 / reads if server_pid else 0.0
    graph.reset_connection()
    latencies.sort()
    return {"p50_ms": round(latencies[len(latencies) // 2], 3),
            "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 3),
            "max_ms": round(latencies[-1], 3), "rows_per_read": round(rows / reads, 1),
            "client_cpu_ms_per_read": round(cpu_ms, 3), "server_cpu_ms_per_read": round(server_cpu_ms, 3)}


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
    args = parser.parse_args()

    import django

    django.setup()
    import graph

    store_dir = Path(tempfile.mkdtemp(prefix="jh-bench-server-")) / "graph"
    store_url = f"embedded://{store_dir}"
    load_s = timed("load", lambda: load(store_url, args.events, args.customers, seed=7))
    graph.reset_connection()

    process, ws_url = start_server(store_dir)
    try:
        server = time_reads(ws_url, args.customers, args.reads, server_pid=process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    embedded = time_reads(store_url, args.customers, args.reads)

    result = {"events": args.events, "customers": args.customers, "reads": args.reads, "load_s": round(load_s, 1),
              "embedded": embedded, "server": server, "target_server_p99_ms": TARGET_P99_MS,
              "server_p99_within_target": server["p99_ms"] <= TARGET_P99_MS, "cpus": os.cpu_count(),
              "load_average_1m_after": round(os.getloadavg()[0], 2)}
    print(f"load average (1 min) at the end: {result['load_average_1m_after']} on {os.cpu_count()} CPUs")
    print(f"{'path':<10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'rows':>8}"
          f"{'client CPU ms':>15}{'server CPU ms':>15}")
    for name in ("embedded", "server"):
        r = result[name]
        print(f"{name:<10}{r['p50_ms']:>10}{r['p99_ms']:>10}{r['max_ms']:>10}{r['rows_per_read']:>8}"
              f"{r['client_cpu_ms_per_read']:>15}{r['server_cpu_ms_per_read']:>15}")
    out = ROOT / "benchmarks" / "results" / "graph_server.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
