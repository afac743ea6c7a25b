"""Bulk ingest and read-latency benchmark for the embedded store.

Run: python benchmarks/ingest.py [--events 1000000] [--customers 100000] [--store memory|DIR]
       [--no-event-store]
Prints a table and writes benchmarks/results/ingest-<events>[-variant].json. Targets (issue 3): >= 10,000
events/s bulk ingest under 3 GB resident memory; a customer's last 20 events p99 < 5 ms embedded;
(issue 12) with the event store on, within 10% of the same run with it off (`--no-event-store`).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeyhub.settings.test")

TYPES = ["login", "view_offer", "search", "call", "chat", "email_open", "apply", "complaint", "payment", "logout"]
CHANNELS = ["web", "app", "voice", "chat", "email"]
START_MS = 1_767_225_600_000  # 2026-01-01


def write_csv(path: Path, events: int, customers: int, seed: int, *, late_share: float) -> None:
    """Events in time order, as exports are, except `late_share` of them which arrive out of order
    (they are spliced into their customer's chain)."""
    rng = random.Random(seed)
    span = 90 * 86_400_000
    rows = sorted((START_MS + rng.randrange(span), i, rng.randrange(customers)) for i in range(events))
    late = set(rng.sample(range(events), int(events * late_share)))
    ordered = [r for j, r in enumerate(rows) if j not in late] + [rows[j] for j in sorted(late)]
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["event_id", "customer_id", "event_type", "channel", "timestamp", "phone"])
        for ts, i, c in ordered:
            phone = f"+614{c:08d}" if i % 10 == 0 else ""
            out.writerow([f"b{i}", f"c{c}", rng.choice(TYPES), rng.choice(CHANNELS), ts, phone])


def _children_cpu() -> float:
    """CPU seconds of finished child processes (a large file is read in one)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--store", default="", help="'memory' or a directory (default: a new temp dir, durable)")
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--late", type=float, default=0.01, help="share of events that arrive out of time order")
    parser.add_argument("--no-hooks", action="store_true",
                        help="measure the graph write alone (no milestone/similarity/KPI follow-up)")
    parser.add_argument("--no-milestones", action="store_true",
                        help="keep the follow-up but define no milestone (the baseline for milestone cost)")
    parser.add_argument("--no-event-store", action="store_true",
                        help="graph only: no Parquet copy (the baseline for the event store's cost)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="jh-bench-"))
    store = args.store or str(tmp / "graph")
    os.environ["GRAPH_URL"] = "embedded://memory" if store == "memory" else f"embedded://{store}"
    os.environ["EVENTS_STORE_URL"] = str(tmp / "events")
    os.environ["EVENTS_STORE_ENABLED"] = "false" if args.no_event_store else "true"

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.ingest.services import bulk_collection, ingest_file
    from apps.ingest.signals import events_ingested

    if args.no_hooks:
        events_ingested.receivers.clear()
    elif not args.no_milestones:
        from apps.journeys.models import MilestoneDefinition

        MilestoneDefinition.objects.create(name="Applied", slug="applied", trigger="event_type", event_type="apply")
        MilestoneDefinition.objects.create(name="Searched then applied", slug="searched_then_applied",
                                           trigger="sequence", sequence=["search", "apply"],
                                           window_seconds=7 * 86_400)
    from graph import journeys

    source = tmp / "events.csv"
    write_csv(source, args.events, args.customers, seed=7, late_share=args.late)
    started, cpu_started = time.perf_counter(), time.process_time() + _children_cpu()
    with bulk_collection():  # as the `ingest` command does
        batch = ingest_file(uri=str(source), fmt="csv", progress=lambda b: print(
            f"\r{b.rows_read:,} rows", end="", file=sys.stderr, flush=True))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() + _children_cpu() - cpu_started
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024

    rng = random.Random(1)
    latencies = []
    for _ in range(args.reads):
        customer = f"c{rng.randrange(args.customers)}"
        t0 = time.perf_counter()
        journeys.recent_events(customer, 20)
        latencies.append((time.perf_counter() - t0) * 1000)
    result = {
        "events": args.events, "customers": args.customers, "store": "memory" if store == "memory" else "durable",
        "hooks": not args.no_hooks, "milestones": 0 if args.no_hooks or args.no_milestones else 2,
        "late_share": args.late, "event_store": not args.no_event_store,
        "event_store_files": sum(1 for _ in (tmp / "events").rglob("*.parquet")),
        "event_store_mb": round(sum(p.stat().st_size for p in (tmp / "events").rglob("*.parquet")) / 1e6, 1),
        "loaded": batch.loaded, "seconds": round(elapsed, 1),
        "events_per_s": round(batch.loaded / elapsed), "cpu_seconds": round(cpu, 1),
        "events_per_cpu_s": round(batch.loaded / cpu),
        "max_rss_gb": round(rss_gb, 2),
        "reader_process_rss_gb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024, 2),
        "last20_p50_ms": round(percentile(latencies, 0.5), 3),
        "last20_p99_ms": round(percentile(latencies, 0.99), 3),
    }
    print()
    for key, value in result.items():
        print(f"{key:>16}  {value}")
    variant = "-nohooks" if args.no_hooks else "-nomilestones" if args.no_milestones else ""
    variant += "-noeventstore" if args.no_event_store else ""
    out = ROOT / "benchmarks" / "results" / f"ingest-{args.events}{variant}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    import graph

    graph.reset_connection()
    shutil.rmtree(tmp, ignore_errors=True)  # the generated file and, unless --store was given, the store


if __name__ == "__main__":
    main()
