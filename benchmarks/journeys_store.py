"""The analytics engine at scale, through the HTTP API (run it as `python benchmarks/journeys.py --store`).

1. The synthetic set is written straight to Parquet under a temporary EVENTS_STORE_URL, in chunks of 1M
   events (so 10M events never sit in memory at once), one file per chunk and day. Past 10M the ten
   distinct 1M chunks are written again under other customer keys (same journeys, new customers).
2. A web process (gunicorn, one worker, one thread, DuckDB) is started on the new store and its first
   question timed: it waits for the journey table (journey order computed once per store content).
   Then for each analysis a fresh web process (the journey table on disk) and its first request
   (connection, store listing, query), then `--repeat` more (warm: the result cache answers). A web
   process with the result cache off times `--repeat` queries that re-run in DuckDB. Wall time and the
   worker's CPU time (/proc) per request; resident memory (VmRSS) and peak (VmHWM) after the requests.
3. In the same run: pm4py's DFG and variants and the numpy analyzers (apps.journeys.analyzers) on the
   same events in memory (the first 1M chunk), for the ratios; `--spark` also times each analysis on
   Spark local mode (in process, over the same files). Every figure: min and median of the runs.
4. `--in-process dfg,funnel` (for 100M events): no web process; the journey table, then the named
   analyses, in this process with ANALYTICS_MEMORY_LIMIT (spilling to disk past it), timed once each.
   With `--keep DIR` the journey table is kept in `DIR-analytics` and reopened by the next run.
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


DISTINCT_CHUNKS = 10


def write_store(root: Path, events: int, customers: int) -> tuple[int, float]:
    """The synthetic set as Parquet files in the store's layout; returns (events written, seconds).
    At most ten distinct chunks are generated; past that each is written again under new keys."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from apps.journeys.synthetic import synthetic_frame

    started = time.perf_counter()
    chunks = max(1, -(-events // CHUNK_EVENTS))
    distinct = min(chunks, DISTINCT_CHUNKS)
    written = 0
    for seed in range(distinct):
        frame = synthetic_frame(n_events=events // chunks, n_customers=customers // chunks, seed=seed + 1)
        n = len(frame)
        text = {name: pa.array(frame[name].astype(str).tolist(), pa.string())
                for name in ("event_id", "customer_id", "type", "channel")}
        base = pa.table({
            **text,
            "ts": frame["ts"].to_numpy(np.int64),
            "intent": pa.nulls(n, pa.string()), "outcome": pa.nulls(n, pa.string()),
            "source": pa.array(["synthetic"] * n), "attributes": pa.array(["{}"] * n),
            "event_date": pa.array((frame["ts"] // 86_400_000).astype("datetime64[D]").astype(str).tolist(),
                                   pa.string())})
        del frame
        for chunk in range(seed, chunks, distinct):
            prefix = f"k{chunk:03d}" if chunks > 100 else f"k{chunk:02d}"
            table = base.set_column(0, "event_id", pc.binary_join_element_wise(prefix, base["event_id"], ""))
            table = table.set_column(1, "customer_id", pc.binary_join_element_wise(prefix, base["customer_id"], ""))
            table = table.append_column("seq", pa.array(np.arange(chunk * n, (chunk + 1) * n, dtype=np.int64)))
            table = table.append_column("batch_id", pa.array([f"bench-{chunk}"] * n))
            pq.write_to_dataset(table, root / "events", partition_cols=["event_date"],
                                basename_template=f"bench{chunk:03d}-{{i}}.parquet")
            written += n
            print(f"  chunk {chunk + 1}/{chunks} written ({written:,} events)", flush=True)
    return written, time.perf_counter() - started


def reference(events: int, customers: int, repeat: int) -> dict[str, dict[str, float]]:
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
        "pm4py DFG": timed(lambda: pm4py.discover_dfg(log), repeat),
        "pm4py variants": timed(lambda: pm4py.get_variants(log), repeat),
        "numpy DFG": timed(lambda: frequency.directly_follows(frame), repeat),
        "numpy top journeys": timed(lambda: frequency.top_journeys(frame, max_steps=5, limit=20), repeat),
        "numpy paths": timed(lambda: paths.paths(frame, start_event="web_visit", steps=10, min_count=50), repeat),
        "numpy funnel": timed(lambda: funnels.funnel(frame, events=["web_visit", "product_view", "cart", "checkout"],
                                                     window_ms=7 * 86_400_000, by_channel=True), repeat),
    }
    out["events"] = {"count": float(len(frame))}
    return out


def engine_in_process(store: Path, work: Path, repeat: int) -> dict[str, dict[str, float]]:
    """Whole-journey variants and the DFG on DuckDB in this process, result cache off (the journey
    table built by the web processes is opened): what pm4py's get_variants and discover_dfg do."""
    from django.conf import settings

    from apps.events.analytics import journeys as analytics
    from apps.events.engine import Engine, EventFilter

    settings.ANALYTICS_TEMP_DIR = str(work / "spill")
    engine = Engine(store_url=str(store), kind="duckdb")
    engine.journey_table()
    return {"variants": timed(lambda: analytics.variants(engine, EventFilter()), repeat),
            "DFG": timed(lambda: analytics.directly_follows(engine, EventFilter()), repeat)}


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    """Min and median wall time, and median CPU time of this process (all its threads), over the runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return {"min_s": round(min(walls), 4), "median_s": round(statistics.median(walls), 4),
            "cpu_median_s": round(statistics.median(cpus), 4), "runs": repeat}


def environment(work: Path, store: Path, *, cache: bool) -> dict[str, str]:
    return {"DJANGO_SETTINGS_MODULE": "journeyhub.settings.local", "DEBUG": "false",
            "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}", "GRAPH_URL": "embedded://memory",
            "EVENTS_STORE_URL": str(store), "ANALYTICS_TEMP_DIR": str(work / "spill"),
            "ANALYTICS_RESULT_CACHE": "64" if cache else "0", "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "ARTIFACTS_DIR": str(work / "artifacts"), "LOG_LEVEL": "WARNING", "SECRET_KEY": "benchmark-only",
            "ANALYTICS_MEMORY_LIMIT": os.environ.get("ANALYTICS_MEMORY_LIMIT", "1GB")}


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
        self.started = time.perf_counter()
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

    def get(self, path: str, key: str) -> tuple[float, float]:
        """One request: (wall seconds, the worker's CPU seconds)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=3600)
        cpu = self.cpu_s()
        started = time.perf_counter()
        connection.request("GET", path, headers={"Authorization": f"Api-Key {key}"})
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        connection.close()
        if response.status != 200:
            raise SystemExit(f"{path} answered {response.status}: {body[:300]!r}")
        return elapsed, self.cpu_s() - cpu

    def _worker(self) -> int | None:
        workers = [int(p.parent.name) for p in Path("/proc").glob("[0-9]*/stat") if _parent(p) == self.process.pid]
        return workers[0] if workers else None

    def cpu_s(self) -> float:
        """User + system CPU of the worker so far (every thread, DuckDB's included)."""
        worker = self._worker()
        if worker is None:
            return 0.0
        fields = Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_mb(self) -> dict[str, float]:
        worker = self._worker()
        status = Path(f"/proc/{worker}/status").read_text() if worker else ""
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


def table_on_disk(work: Path, store: Path) -> None:
    """The journey table of this store content built to the end, as a web process that ran long enough
    leaves it (the first one above is stopped while its build runs beside the questions): the runs
    below then measure a restart, which opens the table on disk."""
    from django.conf import settings

    from apps.events.engine import Engine

    settings.ANALYTICS_TEMP_DIR = str(work / "spill")
    settings.ANALYTICS_JOURNEY_BACKGROUND = False
    Engine(store_url=str(store), kind="duckdb").journey_table()


def http_times(work: Path, store: Path, repeat: int) -> dict[str, Any]:
    env = environment(work, store, cache=True)
    key = api_key(env)
    out: dict[str, Any] = {"questions": {}}
    for old in (work / "spill").glob("journeys-*.duckdb"):
        old.unlink()
    server = Server(env)  # a store no web process has seen: answered while its journey table builds
    try:
        ready = time.perf_counter() - server.started
        wall, cpu = server.get(QUESTIONS["DFG"], key)
        out["first_after_store_change"] = {
            "question": "DFG", "wall_s": round(wall, 3), "cpu_s": round(cpu, 2), "memory_mb": server.memory_mb(),
            "process_start_to_answer_s": round(time.perf_counter() - server.started, 2),
            "process_start_to_healthz_s": round(ready, 2)}
        print("first question on a new store (the journey table building beside it):",
              out["first_after_store_change"], flush=True)
    finally:
        server.stop()
    table_on_disk(work, store)
    memory: dict[str, float] = {}
    for name, path in QUESTIONS.items():
        firsts, cpus = [], []
        warm: list[float] = []
        for _ in range(repeat):  # a fresh web process each time: first request after start
            server = Server(env)
            try:
                wall, cpu = server.get(path, key)
                firsts.append(wall)
                cpus.append(cpu)
                if not warm:
                    warm = [server.get(path, key)[0] for _ in range(repeat)]
                memory = {k: max(v, memory.get(k, 0.0)) for k, v in server.memory_mb().items()}
            finally:
                server.stop()
        out["questions"][name] = {"first_min_s": round(min(firsts), 4),
                                  "first_median_s": round(statistics.median(firsts), 4),
                                  "first_cpu_median_s": round(statistics.median(cpus), 3),
                                  "warm_min_s": round(min(warm), 4), "warm_median_s": round(statistics.median(warm), 4)}
        print(name, out["questions"][name], flush=True)
    server = Server(environment(work, store, cache=False))
    try:
        for name, path in QUESTIONS.items():
            runs = [server.get(path, key) for _ in range(repeat)]
            out["questions"][name].update(uncached_min_s=round(min(r[0] for r in runs), 4),
                                          uncached_median_s=round(statistics.median(r[0] for r in runs), 4),
                                          uncached_cpu_median_s=round(statistics.median(r[1] for r in runs), 3))
            print(name, "uncached", out["questions"][name], flush=True)
        out["memory_all_questions_mb"] = server.memory_mb()
    finally:
        server.stop()
    out["memory_one_question_mb"] = memory
    return out


def spark_times(store: Path, repeat: int, save: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Each analysis on Spark local mode in this process: the first run (plans, JVM warm-up), then
    `repeat` more; CPU is this process's and the JVM's (Spark's local executors run in the JVM)."""
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
    started = time.perf_counter()
    engine.backend  # noqa: B018 - the session starts here, not inside the first question
    out: dict[str, Any] = {"session_start_s": round(time.perf_counter() - started, 2)}
    for name, call in calls.items():
        cpu = _children_cpu_s()
        first = timed(call, 1)
        more = timed(call, repeat)
        out[name] = {"first_s": first["min_s"], **more,
                     "jvm_cpu_s_all_runs": round(_children_cpu_s() - cpu, 2)}
        print(f"Spark local, {name}: {out[name]}", flush=True)
        save(out)  # each question as it completes: on a loaded machine the whole run may not
    return out


def _children_cpu_s() -> float:
    """CPU seconds of this process's child processes still running (the Spark JVM)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        if _parent(stat) == os.getpid():
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, ValueError, IndexError):
                continue
    return total


def in_process(store: Path, work: Path, names: list[str]) -> dict[str, Any]:
    """The journey table, then the named analyses (dfg, funnel), once each in this process: the
    out-of-core run (ANALYTICS_MEMORY_LIMIT bounds DuckDB; past it DuckDB spills to disk)."""
    import resource

    from django.conf import settings

    from apps.events.analytics import journeys as analytics
    from apps.events.engine import Engine, EventFilter

    settings.ANALYTICS_TEMP_DIR = str(work / "spill")
    settings.ANALYTICS_MEMORY_LIMIT = os.environ.get("ANALYTICS_MEMORY_LIMIT", "1GB")
    settings.ANALYTICS_RESULT_CACHE = 0
    engine = Engine(store_url=str(store), kind="duckdb")
    flt = EventFilter()
    calls: dict[str, Callable[[], Any]] = {
        "journey table (built)": engine.journey_table,
        "dfg": lambda: analytics.directly_follows(engine, flt),
        "funnel": lambda: analytics.funnel(engine, flt, events=["web_visit", "product_view", "cart", "checkout"],
                                           window_ms=7 * 86_400_000, by_channel=True),
        "top": lambda: analytics.top_journeys(engine, flt, max_steps=5, limit=20),
        "paths": lambda: analytics.journey_paths(engine, flt, start_event="web_visit", steps=10, min_count=50),
        "variants": lambda: analytics.variants(engine, flt),
    }
    out: dict[str, Any] = {"memory_limit": settings.ANALYTICS_MEMORY_LIMIT}
    for name in ["journey table (built)", *names]:
        out[name] = timed(calls[name], 1)
        out[name]["max_rss_mb_so_far"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        print(name, out[name], flush=True)
    spill = work / "spill"
    out["journey_file_mb"] = round(sum(p.stat().st_size for p in spill.glob("journeys-*.duckdb")) / 2**20, 1)
    return out


def main(args: argparse.Namespace) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeyhub.settings.test")
    django.setup()
    work = Path(tempfile.mkdtemp(prefix="journeyhub-bench-"))
    store = Path(args.keep) if args.keep else work / "store"
    if args.keep and args.in_process:  # the journey table kept beside the store: a later run reopens it
        kept = store.with_name(f"{store.name}-analytics")
        kept.mkdir(parents=True, exist_ok=True)
        (work / "spill").symlink_to(kept)
    try:
        if (store / "events").exists():
            written, write_s = -1, 0.0
        else:
            written, write_s = write_store(store, args.events, args.customers)
        print(f"store: {written:,} events written in {write_s:.1f} s at {store}", flush=True)
        results: dict[str, Any] = {"events": args.events, "customers": args.customers,
                                   "write_s": round(write_s, 1), "machine": platform.platform(),
                                   "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg(),
                                   "store_mb": round(sum(p.stat().st_size for p in store.rglob("*.parquet")) / 2**20),
                                   "started_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
        tag = args.tag or f"{args.events // 1_000_000}m"
        out = ROOT / "benchmarks" / "results" / f"journeys_store_{tag}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        if args.in_process:
            results["in_process"] = in_process(store, work, args.in_process.split(","))
        elif not args.spark_only:
            results["http"] = http_times(work, store, args.repeat)
        out.write_text(json.dumps(results, indent=2) + "\n")  # written after each part: Spark may take long
        if not args.skip_pm4py and not args.in_process and not args.spark_only:
            results["reference_in_memory"] = reference(args.events, args.customers, args.repeat)
            results["engine_in_process_duckdb"] = engine_in_process(store, work, args.repeat)
            results["ratios"] = ratios(results)
        out.write_text(json.dumps(results, indent=2) + "\n")
        if args.spark or args.spark_only:
            def save(partial: dict[str, Any]) -> None:
                results["spark_local"] = partial
                out.write_text(json.dumps(results, indent=2) + "\n")

            results["spark_local"] = spark_times(store, args.repeat, save)
        results["load_average_at_end"] = os.getloadavg()
        results["finished_utc"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps({k: v for k, v in results.items() if k in ("ratios", "in_process", "spark_local")}, indent=1))
        print(f"\nwritten {out.relative_to(ROOT)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ratios(results: dict[str, Any]) -> dict[str, float]:
    """pm4py's and numpy's median time over ours (above 1: ours is faster), same run, same events."""
    ref = results["reference_in_memory"]
    questions = results["http"]["questions"]
    ours = results["engine_in_process_duckdb"]
    return {
        "pm4py DFG / HTTP DFG uncached": round(ref["pm4py DFG"]["median_s"] / questions["DFG"]["uncached_median_s"], 2),
        "pm4py DFG / HTTP DFG first after start": round(ref["pm4py DFG"]["median_s"]
                                                        / questions["DFG"]["first_median_s"], 2),
        "pm4py DFG / HTTP DFG warm (result cache)": round(ref["pm4py DFG"]["median_s"]
                                                          / questions["DFG"]["warm_median_s"], 1),
        "pm4py DFG / in-process DFG uncached": round(ref["pm4py DFG"]["median_s"] / ours["DFG"]["median_s"], 2),
        "pm4py variants / in-process variants uncached": round(ref["pm4py variants"]["median_s"]
                                                               / ours["variants"]["median_s"], 2),
        **{f"numpy {q} / HTTP uncached": round(ref[f"numpy {n}"]["median_s"] / questions[q]["uncached_median_s"], 2)
           for n, q in (("DFG", "DFG"), ("top journeys", "top journeys (5 steps, top 20)"),
                        ("paths", "paths from web_visit (10 steps)"), ("funnel", "funnel (4 steps, 7 days)"))},
    }
