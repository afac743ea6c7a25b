"""The first analysis after an ingest batch lands: the journey table rebuilt in full (what every new
file cost before) against brought up to date by a delta of the customers the batch touches.

    python benchmarks/journey_upkeep.py [--events 1000000 --customers 100000] [--keep DIR] [--repeat 3]

1. The synthetic store (benchmarks/journeys_store.write_store, written without a manifest, as by older
   code) and its journey table, built once.
2. The store check a cached answer makes: the folder scan (a store without a manifest) and the
   manifest's first line, each `--checks` times.
3. "Before": `ANALYTICS_JOURNEY_FOLD_SHARE=0`, so any change rebuilds the whole table where the
   question is asked, as every new file did before. `--repeat` times: one batch of `--batch` events
   (half from customers the store holds, half from new ones, through the store's writer), then the
   DFG, timed (wall and this process's CPU, DuckDB's threads included).
4. "After": the default fold share; the same, with the table brought up to date by a delta. Then the
   DFG with the result cache off, over the delta view and over a full table, `--repeat` times each.
Every figure: min and median. Written to benchmarks/results/journey_upkeep_<tag>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn: Callable[[], Any], repeat: int, before: Callable[[], Any] = lambda: None) -> dict[str, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        before()
        started, cpu = time.perf_counter(), cpu_s()
        fn()
        walls.append(time.perf_counter() - started)
        cpus.append(cpu_s() - cpu)
    return {"min_s": round(min(walls), 6), "median_s": round(statistics.median(walls), 6),
            "cpu_median_s": round(statistics.median(cpus), 4), "runs": repeat}


def batch_appender(size: int) -> Callable[[], None]:
    """Each call writes one ingest batch through the store's writer: `size` events, half of them
    from customers the store holds (keys k00c…), half from customers it has not seen."""
    from apps.events import store
    from apps.journeys.synthetic import synthetic_frame

    count = [0]

    def append() -> None:
        count[0] += 1
        n = count[0]
        frame = synthetic_frame(n_events=size, n_customers=max(size // 10, 1), seed=1000 + n)
        old = frame.customer_id.str.slice(-1).isin(list("01234"))
        frame["customer_id"] = ("k00" + frame.customer_id).where(old, f"nb{n}-" + frame.customer_id)
        frame["event_id"] = f"b{n}-" + frame.event_id.astype(str)
        rows = frame.assign(seq=(10_000 + n) << 32, source="bench", batch_id=f"b{n}", attributes="{}",
                            intent=None, outcome=None).to_dict("records")
        by_day: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_day.setdefault(store.day_of(int(row["ts"])), []).append(row)
        for day, part in sorted(by_day.items()):
            store.write_day(day, store.rows_table(part), tag=f"batch-b{n}")

    return append


def main(args: argparse.Namespace) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeyhub.settings.test")
    django.setup()
    from django.conf import settings

    from apps.events.analytics import journeys as analytics
    from apps.events.engine import Engine, EventFilter
    from benchmarks.journeys_store import write_store

    work = Path(tempfile.mkdtemp(prefix="journeyhub-upkeep-"))
    root = Path(args.keep) if args.keep else work / "store"
    try:
        if not (root / "events").exists():
            write_store(root, args.events, args.customers)
        settings.EVENTS_STORE_URL = str(root)
        settings.ANALYTICS_TEMP_DIR = str(work / "spill")
        settings.ANALYTICS_JOURNEY_BACKGROUND = False  # the cost where the question is asked
        settings.ANALYTICS_RESULT_CACHE = 0
        results: dict[str, Any] = {"events": args.events, "customers": args.customers, "batch": args.batch,
                                   "machine": platform.platform(), "cpus": os.cpu_count(),
                                   "load_average_at_start": os.getloadavg(),
                                   "started_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
        engine = Engine(store_url=str(root), kind="duckdb")
        dfg = lambda: analytics.directly_follows(engine, EventFilter())  # noqa: E731
        results["first build"] = timed(engine.journey_table, 1)
        results["store files"] = sum(1 for _ in (root / "events").glob("*/*.parquet"))
        results["store check: folder scan (no manifest)"] = timed(engine.fingerprint, args.checks)
        append = batch_appender(args.batch)
        append()  # the first write through the store's writer creates the manifest
        results["store check: manifest"] = timed(engine.fingerprint, args.checks)
        settings.ANALYTICS_JOURNEY_FOLD_SHARE = 0.0
        results["before: first DFG after a batch (full rebuild)"] = timed(dfg, args.repeat, append)
        print(json.dumps(results, indent=1), flush=True)
        settings.ANALYTICS_JOURNEY_FOLD_SHARE = 0.05
        engine.journey_table()  # a full table of the current content, the base of the deltas
        results["after: first DFG after a batch (delta)"] = timed(dfg, args.repeat, append)
        results["delta customers after the runs"] = json.loads(
            next((work / "spill").glob("journeys-*-delta.json")).read_text())["customers"]
        results["DFG uncached over base + delta"] = timed(dfg, args.repeat)
        settings.ANALYTICS_JOURNEY_FOLD_SHARE = 0.0
        append()
        engine.journey_table()
        results["DFG uncached over a full table"] = timed(dfg, args.repeat)
        results["load_average_at_end"] = os.getloadavg()
        results["finished_utc"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
        out = ROOT / "benchmarks" / "results" / f"journey_upkeep_{args.tag or str(args.events // 1_000_000) + 'm'}.json"
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=1))
        print(f"written {out.relative_to(ROOT)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2_500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--checks", type=int, default=20)
    parser.add_argument("--keep", help="an existing store folder to use (it is appended to)")
    parser.add_argument("--tag")
    main(parser.parse_args())
