"""The analytics engine at scale, through the HTTP API (run it as `python benchmarks/journeys.py --store`).

1. The synthetic set is written straight to Parquet under a temporary EVENTS_STORE_URL, in chunks of at
   most 1M events (so 10M events never sit in memory at once), one file per chunk and day.
2. For each analysis a fresh gunicorn web process (one worker, one thread, DuckDB) is started and the
   first request is timed (connection, store listing, query), then `--repeat` more (warm: the result
   cache answers). A second web process with the result cache off times warm queries that re-run in
   DuckDB. The worker's resident memory (VmRSS) and peak (VmHWM) are read from /proc after the requests.
3. In the same run and process as the benchmark: pm4py's DFG and variants and the numpy analyzers
   (apps.journeys.analyzers) on the same events in memory, for the ratios; `--spark` also times each
   analysis on Spark local mode (in process, over the same files).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHUNK_EVENTS = 1_000_000
QUESTIONS = {
    "DFG": "/api/journeys/dfg",
    "top journeys (5 steps, top 20)": "/api/journeys/top?steps=5&limit=20",
    "paths from web_visit (10 steps)": "/api/journeys/paths?start_event=web_visit&steps=10&min_count=50",
    "funnel (4 steps, 7 days)": "/api/journeys/funnel?steps=web_visit,product_view,cart,checkout"
                                "&window_hours=168&by_channel=true",
}


def write_store(root: Path, events: int, customers: int) -> tuple[int, float]:
    """The synthetic set as Parquet files in the store's layout; returns (events written, seconds)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from apps.journeys.synthetic import synthetic_frame

    started = time.perf_counter()
    chunks = max(1, -(-events // CHUNK_EVENTS))
    written = 0
    for chunk in range(chunks):
        frame = synthetic_frame(n_events=events // chunks, n_customers=customers // chunks, seed=chunk + 1)
        n = len(frame)
        frame["customer_id"] = [f"k{chunk:02d}{c}" for c in frame["customer_id"]]
        frame["event_id"] = [f"k{chunk:02d}{e}" for e in frame["event_id"]]
        table = pa.table({
            "event_id": frame["event_id"].astype(str), "customer_id": frame["customer_id"].astype(str),
            "type": frame["type"].astype(str), "channel": frame["channel"].astype(str),
            "ts": frame["ts"].to_numpy(np.int64), "seq": np.arange(written, written + n, dtype=np.int64),
            "intent": pa.nulls(n, pa.string()), "outcome": pa.nulls(n, pa.string()),
            "source": pa.array(["synthetic"] * n), "attributes": pa.array(["{}"] * n),
            "batch_id": pa.array([f"bench-{chunk}"] * n),
            "event_date": (frame["ts"] // 86_400_000).astype("datetime64[D]").astype(str)})
        pq.write_to_dataset(table, root / "events", partition_cols=["event_date"],
                            basename_template=f"bench{chunk:02d}-{{i}}.parquet")
        written += n
        del frame, table
    return written, time.perf_counter() - started


def reference(events: int, customers: int, repeat: int) -> dict[str, float]:
    """pm4py and the numpy analyzers on the same events in memory (the first chunk when the store is
    larger than one chunk: the comparison is per million events)."""
    import pandas as pd
    import pm4py

    from apps.journeys.analyzers import frequency, funnels, paths
    from apps.journeys.synthetic import synthetic_frame

    chunks = max(1, -(-events // CHUNK_EVENTS))
    frame = synthetic_frame(n_events=events // chunks, n_customers=customers // chunks, seed=1)
    log = frame.rename(columns={"customer_id": "case:concept:name", "type": "concept:name"})[
        ["case:concept:name", "concept:name", "ts"]].copy()
    log["time:timestamp"] = pd.to_datetime(log["ts"], unit="ms", utc=True)
    out = {
        "pm4py DFG": best(lambda: pm4py.discover_dfg(log), repeat),
        "pm4py variants": best(lambda: pm4py.get_variants(log), repeat),
        "numpy DFG": best(lambda: frequency.directly_follows(frame), repeat),
        "numpy top journeys": best(lambda: frequency.top_journeys(frame, max_steps=5, limit=20), repeat),
        "numpy paths": best(lambda: paths.paths(frame, start_event="web_visit", steps=10, min_count=50), repeat),
        "numpy funnel": best(lambda: funnels.funnel(frame, events=["web_visit", "product_view", "cart", "checkout"],
                                                    window_ms=7 * 86_400_000, by_channel=True), repeat),
    }
    out["events"] = float(len(frame))
    return out


def engine_variants(store: Path, repeat: int) -> float:
    """Whole-journey variants on DuckDB in process (no result cache): what pm4py's get_variants does."""
    from apps.events.analytics import journeys as analytics
    from apps.events.engine import Engine, EventFilter

    engine = Engine(store_url=str(store), kind="duckdb")
    return best(lambda: analytics.variants(engine, EventFilter()), repeat)


def best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def environment(work: Path, store: Path, *, cache: bool) -> dict[str, str]:
    return {"DJANGO_SETTINGS_MODULE": "journeyhub.settings.local", "DEBUG": "false",
            "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}", "GRAPH_URL": "embedded://memory",
            "EVENTS_STORE_URL": str(store), "ANALYTICS_TEMP_DIR": str(work / "spill"),
            "ANALYTICS_RESULT_CACHE": "64" if cache else "0", "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "ARTIFACTS_DIR": str(work / "artifacts"), "LOG_LEVEL": "WARNING", "SECRET_KEY": "benchmark-only"}


def api_key(env: dict[str, str]) -> str:
    subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env={**os.environ, **env},
                   check=True)
    out = subprocess.run([sys.executable, "manage.py", "create_api_key", "benchmark"], cwd=ROOT, check=True,
                         env={**os.environ, **env}, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1].strip()


class Server:
    """One gunicorn web process (one worker, one thread) on a free loopback port."""

    def __init__(self, env: dict[str, str]) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        command = [sys.executable, "-m", "gunicorn", "journeyhub.wsgi:application", "--bind",
                   f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "1", "--timeout", "600",
                   "--log-level", "warning"]
        self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the master accepts before the worker is ready: ask /healthz
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                connection.request("GET", "/healthz")
                connection.getresponse().read()
                connection.close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise SystemExit("gunicorn did not start within 120 s")

    def get(self, path: str, key: str) -> float:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        started = time.perf_counter()
        connection.request("GET", path, headers={"Authorization": f"Api-Key {key}"})
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        connection.close()
        if response.status != 200:
            raise SystemExit(f"{path} answered {response.status}: {body[:300]!r}")
        return elapsed

    def memory_mb(self) -> dict[str, float]:
        workers = [int(p.parent.name) for p in Path("/proc").glob("[0-9]*/stat")
                   if _parent(p) == self.process.pid]
        status = Path(f"/proc/{workers[0]}/status").read_text() if workers else ""
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return {k: round(int(fields[k].split()[0]) / 1024, 1) for k in ("VmRSS", "VmHWM") if k in fields}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _parent(stat: Path) -> int:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def http_times(work: Path, store: Path, repeat: int) -> dict[str, Any]:
    env = environment(work, store, cache=True)
    key = api_key(env)
    out: dict[str, Any] = {"questions": {}}
    memory: dict[str, float] = {}
    for name, path in QUESTIONS.items():
        server = Server(env)
        try:
            first = server.get(path, key)
            warm = [server.get(path, key) for _ in range(repeat)]
            memory = {k: max(v, memory.get(k, 0.0)) for k, v in server.memory_mb().items()}
        finally:
            server.stop()
        out["questions"][name] = {"first_s": round(first, 4), "warm_min_s": round(min(warm), 4),
                                  "warm_median_s": round(statistics.median(warm), 4)}
    server = Server(environment(work, store, cache=False))
    try:
        for name, path in QUESTIONS.items():
            times = [server.get(path, key) for _ in range(repeat)]
            out["questions"][name].update(uncached_min_s=round(min(times), 4),
                                          uncached_median_s=round(statistics.median(times), 4))
        out["memory_all_questions_mb"] = server.memory_mb()
    finally:
        server.stop()
    out["memory_one_question_mb"] = memory
    return out


def spark_times(store: Path) -> dict[str, dict[str, float]]:
    from apps.events.analytics import journeys as analytics
    from apps.events.engine import Engine, EventFilter

    engine = Engine(store_url=str(store), kind="spark")
    flt = EventFilter()
    calls: dict[str, Callable[[], Any]] = {
        "DFG": lambda: analytics.directly_follows(engine, flt),
        "top journeys (5 steps, top 20)": lambda: analytics.top_journeys(engine, flt, max_steps=5, limit=20),
        "paths from web_visit (10 steps)": lambda: analytics.journey_paths(engine, flt, start_event="web_visit",
                                                                           steps=10, min_count=50),
        "funnel (4 steps, 7 days)": lambda: analytics.funnel(
            engine, flt, events=["web_visit", "product_view", "cart", "checkout"], window_ms=7 * 86_400_000,
            by_channel=True),
    }
    out = {}
    for name, call in calls.items():
        first = best(call, 1)
        out[name] = {"first_s": round(first, 2), "second_s": round(best(call, 1), 2)}
        print(f"Spark local, {name}: {out[name]}", flush=True)
    return out


def main(args: argparse.Namespace) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeyhub.settings.test")
    django.setup()
    work = Path(tempfile.mkdtemp(prefix="journeyhub-bench-"))
    store = Path(args.keep) if args.keep else work / "store"
    try:
        if (store / "events").exists():
            written, write_s = -1, 0.0
        else:
            written, write_s = write_store(store, args.events, args.customers)
        print(f"store: {written:,} events written in {write_s:.1f} s at {store}", flush=True)
        results: dict[str, Any] = {"events": args.events, "customers": args.customers,
                                   "write_s": round(write_s, 1), "machine": platform.platform(),
                                   "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()}
        out = ROOT / "benchmarks" / "results" / f"journeys_store_{args.events // 1_000_000}m.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        results["http"] = http_times(work, store, args.repeat)
        out.write_text(json.dumps(results, indent=2) + "\n")  # written after each part: Spark may take long
        if not args.skip_pm4py:
            results["reference_in_memory_s"] = {k: round(v, 4) for k, v in
                                                reference(args.events, args.customers, args.repeat).items()}
            results["engine_variants_duckdb_s"] = round(engine_variants(store, args.repeat), 4)
        out.write_text(json.dumps(results, indent=2) + "\n")
        if args.spark:
            results["spark_local"] = spark_times(store)
        results["load_average_at_end"] = os.getloadavg()
        report(results)
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwritten {out.relative_to(ROOT)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(results: dict[str, Any]) -> None:
    questions = results["http"]["questions"]
    ref = results.get("reference_in_memory_s", {})
    print(f"{'question (HTTP API)':34} {'first':>8} {'warm min':>9} {'warm med':>9} {'uncached':>9}")
    for name, q in questions.items():
        print(f"{name:34} {q['first_s']:>8.3f} {q['warm_min_s']:>9.4f} {q['warm_median_s']:>9.4f} "
              f"{q['uncached_median_s']:>9.3f}")
    print("web process memory (MB):", results["http"]["memory_all_questions_mb"],
          "one question:", results["http"]["memory_one_question_mb"])
    if ref:
        pm = ref["pm4py DFG"]
        print(f"pm4py DFG: {pm:.3f} s = {pm / questions['DFG']['warm_median_s']:.0f}x warm, "
              f"{pm / questions['DFG']['uncached_median_s']:.1f}x uncached")
        ours = results["engine_variants_duckdb_s"]
        print(f"pm4py variants: {ref['pm4py variants']:.3f} s; engine variants (DuckDB, uncached) {ours:.3f} s "
              f"= {ref['pm4py variants'] / ours:.1f}x")
        print("numpy analyzers (in memory):", {k: v for k, v in ref.items() if k.startswith("numpy")})
    if "spark_local" in results:
        print("Spark local:", results["spark_local"])
