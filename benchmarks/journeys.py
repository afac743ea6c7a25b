"""Journey analyses at scale.

Run: python benchmarks/journeys.py [--events 1000000] [--customers 100000] [--queries 200] [--repeat 3]
  The in-memory analyzers on a synthetic frame (apps.journeys.synthetic): top journeys, paths, a 4-step
  funnel, similarity top-10, directly-follows against pm4py; writes benchmarks/results/journeys.json.

Run: python benchmarks/journeys.py --store [--events 1000000] [--customers 100000] [--repeat 3] [--spark]
  The analytics engine through the HTTP API (see benchmarks/journeys_store.py): the synthetic set is
  written straight to Parquet in the event store's layout, then DFG, top journeys, paths (10 steps) and
  a 4-step / 7-day funnel are timed on the first request after the web process starts and warm, with
  the web process's memory, beside pm4py and the numpy analyzers on the same events in the same run;
  `--spark` also times the analyses on Spark local mode. Writes benchmarks/results/journeys_store.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeyhub.settings.test")


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best-of-`repeat` wall time in seconds (the first run also warms caches) and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200, help="similarity queries for the latency percentiles")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-pm4py", action="store_true")
    parser.add_argument("--hook-batches", type=int, default=5, help="1,000-event ingest batches for the hook cost")
    parser.add_argument("--store", action="store_true", help="the analytics engine over Parquet, through HTTP")
    parser.add_argument("--spark", action="store_true", help="with --store: also time Spark local mode")
    parser.add_argument("--keep", default="", help="with --store: reuse/keep the store in this folder")
    parser.add_argument("--in-process", default="", help="with --store: no web process; the journey table, then "
                        "these analyses once each (dfg,funnel,top,paths,variants): the 100M out-of-core run")
    parser.add_argument("--spark-only", action="store_true", help="with --store: only Spark local mode")
    parser.add_argument("--tag", default="", help="with --store: results file journeys_store_<tag>.json")
    args = parser.parse_args()
    if args.store:
        import journeys_store

        journeys_store.main(args)
        return

    import django

    django.setup()
    import numpy as np
    import pandas as pd

    from apps.journeys.analyzers.base import sequences
    from apps.journeys.analyzers.frequency import directly_follows, top_journeys
    from apps.journeys.analyzers.funnels import funnel
    from apps.journeys.analyzers.paths import paths
    from apps.journeys.analyzers.similarity import ShingleIndex
    from apps.journeys.synthetic import synthetic_frame

    rows: list[tuple[str, float, str, str]] = []  # what, seconds, target, note
    gen_s, frame = timed(lambda: synthetic_frame(n_events=args.events, n_customers=args.customers, seed=1), 1)
    rows.append(("generate synthetic frame", gen_s, "", f"{len(frame):,} events, {args.customers:,} customers"))

    s, top = timed(lambda: top_journeys(frame, max_steps=5, limit=20), args.repeat)
    rows.append(("top journeys (K=5, top 20)", s, "< 2 s", f"best: {top.journeys[0].customers} customers"))
    s, result = timed(lambda: paths(frame, start_event="web_visit", steps=10, min_count=50), args.repeat)
    rows.append(("paths from web_visit (10 steps)", s, "< 2 s",
                 f"{len(result.nodes)} nodes, {len(result.links)} links"))
    steps = ["web_visit", "product_view", "cart", "checkout"]
    s, fun = timed(lambda: funnel(frame, events=steps, window_ms=7 * 86_400_000, by_channel=True), args.repeat)
    rows.append(("funnel, 4 steps, 7-day window", s, "< 2 s", f"conversion {fun.conversion:.4f}"))

    ours_s, ours = timed(lambda: directly_follows(frame), args.repeat)
    rows.append(("directly-follows counts (ours)", ours_s, "", f"{len(ours.edges)} edges"))
    if not args.skip_pm4py:
        import pm4py

        log = frame.rename(columns={"customer_id": "case:concept:name", "type": "concept:name"})
        log = log[["case:concept:name", "concept:name", "ts"]].copy()
        log["time:timestamp"] = pd.to_datetime(log["ts"], unit="ms", utc=True)
        pm_s, (dfg, start, end) = timed(lambda: pm4py.discover_dfg(log), args.repeat)
        same = dict(dfg) == ours.edges and dict(start) == ours.start and dict(end) == ours.end
        rows.append(("pm4py discover_dfg", pm_s, "", f"identical counts: {same}; "
                                                     f"pm4py / ours = {pm_s / ours_s:.1f}x"))

    build_s, index = timed(lambda: ShingleIndex.build(sequences(frame)), 1)
    rows.append(("similarity index build", build_s, "", f"{len(index):,} journeys"))
    rng = np.random.default_rng(3)
    customers = frame["customer_id"].unique()
    latencies = []
    for customer in rng.choice(customers, size=args.queries, replace=False):
        start = time.perf_counter()
        index.query(customer_id=str(customer), threshold=0.5, k=10)
        latencies.append(time.perf_counter() - start)
    p50, p99 = statistics.median(latencies), float(np.percentile(latencies, 99))
    rows.append(("similarity top-10, one customer (p50)", p50, "", f"{args.queries} queries"))
    rows.append(("similarity top-10, one customer (p99)", p99, "< 50 ms", ""))
    start = time.perf_counter()
    for i, customer in enumerate(customers[:1000]):
        index.update(str(customer), ("web_visit", "cart", "purchase", str(i % 7)))
    update_ms = (time.perf_counter() - start)
    rows.append(("similarity index update (1,000 customers)", update_ms, "", "kept exact, no rebuild"))

    from apps.journeys.analyzers.milestones import Trigger, first_reaches

    triggers = [Trigger(kind="event_type", event_type="purchase"),
                Trigger(kind="sequence", sequence=("cart", "purchase"), window_ms=86_400_000)]
    s, _ = timed(lambda: [first_reaches(frame, t) for t in triggers], 1)
    ingest = _ingest_rate()
    share = f"; vs ingest at {ingest:,.0f} events/s: +{s / (len(frame) / ingest):.1%}" if ingest else ""
    rows.append(("milestone evaluation (2 triggers, whole log)", s, "< 20% of ingest",
                 f"{len(frame) / s:,.0f} events/s{share}"))

    from apps.journeys.analyzers.kpis import KINDS, KpiParams, compute_kpi

    kpi_frame = frame.assign(outcome=np.where(frame["type"] == "resolved", "resolved",
                                              np.where(frame["type"] == "complaint", "abandoned", None)))
    segments = {c: ("gold" if i % 3 else "silver") for i, c in enumerate(customers)}
    s, _ = timed(lambda: [compute_kpi(kpi_frame, kind=k, params=KpiParams(), period=p, segments=segments)
                          for k in KINDS for p in ("day", "week")], 1)
    rows.append(("KPIs: 6 kinds x day/week, by channel+segment", s, "", "full recompute of the store"))

    rows.extend(hook_overhead(batches=args.hook_batches))

    print(f"{'measure':44} {'time':>11}  {'target':8}  note")
    for what, seconds, target, note in rows:
        shown = f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"
        print(f"{what:44} {shown:>11}  {target:8}  {note}")
    out = ROOT / "benchmarks" / "results" / "journeys.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "events": len(frame), "customers": args.customers, "machine": platform.platform(),
        "load_average_at_end": os.getloadavg(),
        "cpus": os.cpu_count(), "results": [{"what": w, "seconds": round(s, 6), "target": t, "note": n}
                                            for w, s, t, n in rows]}, indent=2))
    print(f"\nwritten {out.relative_to(ROOT)}")


def hook_overhead(*, batches: int, size: int = 1000) -> list[tuple[str, float, str, str]]:
    """Ingest batches into the in-memory graph and run the ingest hook after each, timing its parts:
    the read of the touched customers' events, milestone evaluation (2 definitions) and the rest."""
    import random

    from django.test.runner import DiscoverRunner

    from apps.journeys import services
    from apps.journeys.models import MilestoneDefinition
    from graph import journeys as graph_journeys
    from graph.schema import EventRecord

    DiscoverRunner(verbosity=0).setup_databases()
    MilestoneDefinition.objects.create(name="Purchase", slug="purchase", trigger="event_type", event_type="purchase")
    MilestoneDefinition.objects.create(name="Cart then purchase", slug="cart-purchase", trigger="sequence",
                                       sequence=["cart", "purchase"], window_seconds=86_400)
    rng = random.Random(5)
    types = ["web_visit", "product_view", "cart", "purchase", "call", "chat"]
    ingest = read = milestones = hook = 0.0
    for b in range(batches):
        records = [EventRecord(event_id=f"hook{b}-{i}", type=rng.choice(types), channel="web",
                               ts=1_767_225_600_000 + (b * size + i) * 1000, customer_id=f"h{rng.randrange(5000)}")
                   for i in range(size)]
        start = time.perf_counter()
        report = graph_journeys.write_events(records)
        ingest += time.perf_counter() - start
        start = time.perf_counter()
        frame = graph_journeys.events_frame(customer_ids=list(report.customers))
        read += time.perf_counter() - start
        start = time.perf_counter()
        services.evaluate_milestones(frame=frame)
        milestones += time.perf_counter() - start
        start = time.perf_counter()
        services.on_events_ingested(list(report.customers), recompute=False)
        hook += time.perf_counter() - start
    return [
        (f"ingest {batches} x {size} events (in-memory graph)", ingest, "", "graph.journeys.write_events"),
        ("  milestone evaluation in the hook", milestones, "< 20% of ingest", f"{milestones / ingest:.0%} of ingest"),
        ("  read of touched customers' events", read, "", f"{read / ingest:.0%} of ingest"),
        ("  whole hook (read + milestones + index + marks)", hook, "", f"{hook / ingest:.0%} of ingest"),
    ]


def _ingest_rate() -> float | None:
    """Events/s from the ingest benchmark's last run, to put milestone evaluation in proportion."""
    path = ROOT / "benchmarks" / "results" / "ingest.json"
    try:
        return float(json.loads(path.read_text())["events_per_s"])
    except (OSError, ValueError, KeyError):
        return None


if __name__ == "__main__":
    main()
