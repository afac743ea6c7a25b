"""Decisions at a steady 200 a second for 10 minutes (both configurable) through granian on loopback:
p50/p99/max and errors over the whole run and per minute, so a slow drift (a growing queue, memory, the
decision log falling behind) shows as well as the tail.

Run: python benchmarks/sustained.py [--rate 200] [--seconds 600] [--window 60] [--customers 2000]
     [--server granian|gunicorn] [--workers 1 --threads 2] [--reference-seconds 15]
Builds the same throw-away hub as benchmarks/decisions.py (benchmarks/hubs.py: SQLite in WAL mode,
durable embedded store, intent and risk models trained on the shared data, the call history of
`--customers` callers, decision log written by its background writer) and drives it with the same open-loop generator
(benchmarks/openloop.py: latency counts from each request's scheduled time). `GET /api/ping` at the same
rate before and after the load gives the machine's reference at both ends of the run (a single one
taken first compared the whole run with its first seconds' machine). After the load the decision log
is counted: every answered decision must have its row. Prints a table and writes benchmarks/results/sustained.json.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import hubs


def run_load(hub: hubs.ServedHub, args: argparse.Namespace, pids: list[int]) -> dict[str, Any]:
    """The open loop over the whole duration, then its results cut into windows of `--window` seconds
    (answers are recorded in completion order, which differs from the schedule by at most the latency)."""
    figures, outcome = hubs.open_loop(hub, args.rate, args.seconds, args.clients, pids)
    results = outcome.results
    per_window = int(args.rate * args.window)
    windows = []
    for start in range(0, len(results), per_window):
        part = results[start:start + per_window]
        windows.append({"from_s": round(start / args.rate), "requests": len(part),
                        "errors": sum(1 for _, _, s in part if s != 200), **hubs.stats([ms for _, ms, _ in part])})
    return {**figures, "ok": sum(1 for _, _, s in results if s == 200), "windows": windows}


def logged_decisions(workdir: Path) -> int:
    with sqlite3.connect(workdir / "db.sqlite3") as db:
        return int(db.execute("select count(*) from decisions_decisionlog where contact_id like 'bench-%'")
                   .fetchone()[0])


def main() -> None:
    args = arguments()
    started = time.time()
    with hubs.served_hub(args, "jh-bench-sustained-") as hub:
        load_before = round(os.getloadavg()[0], 2)
        warm, _ = hubs.open_loop(hub, 50, 2, 4, [])
        pids = hub.pids()
        allocator = hubs.allocator_of(pids)
        ping = reference(hub, args, pids)
        load = run_load(hub, args, pids)
        ping_after = reference(hub, args, pids)
    logged = logged_decisions(hub.workdir)  # the server has stopped: its log writer wrote what it held
    expected = load["ok"] + warm["requests"] - warm["errors"]
    result = {"rate": args.rate, "seconds": args.seconds, "window_s": args.window, "customers": args.customers,
              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
              "server": {"kind": args.server, "workers": args.workers, "threads": args.threads,
                         "worker_class": args.worker_class if args.server == "gunicorn" else "",
                         "fast_path": args.fast_path, "allocator": allocator,
                         "cpu_wake_latency_us": args.cpu_wake_latency},
              "graph": "embedded in the worker" if args.workers == 1 else "graphserver over ws://",
              "reference_ping": ping, "reference_ping_after": ping_after,
              "load": load, "decision_log": {"answered": expected, "logged": logged, "lost": expected - logged},
              "cpus": os.cpu_count(), "load_average_1m_before": load_before,
              "load_average_1m_after": round(os.getloadavg()[0], 2)}
    report(result)
    hubs.write_results(result, args.out)
    if load["errors"] or expected != logged:
        sys.exit(1)


def reference(hub: hubs.ServedHub, args: argparse.Namespace, pids: list[int]) -> dict[str, Any] | None:
    """`--reference-seconds` of `GET /api/ping` at the load's rate, or None when that is 0."""
    if not args.reference_seconds:
        return None
    ping = hubs.open_loop(hub, args.rate, args.reference_seconds, args.clients, pids, reference=True)[0]
    return {k: ping[k] for k in ("achieved_rate", "errors", "all")}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--window", type=float, default=60, help="seconds per row of the per-window table")
    hubs.server_arguments(parser)
    parser.add_argument("--reference-seconds", type=float, default=15,
                        help="seconds of GET /api/ping at the same rate before and after the load (0: none)")
    parser.add_argument("--out", default=str(hubs.ROOT / "benchmarks" / "results" / "sustained.json"))
    return parser.parse_args()


def report(result: dict[str, Any]) -> None:
    load, log = result["load"], result["decision_log"]
    print(f"open loop {result['rate']:.0f} decisions/s for {result['seconds']:.0f} s: {load['requests']} requests, "
          f"achieved {load['achieved_rate']}/s, errors {load['errors']} {load['error_statuses'] or ''}; "
          f"server CPU {load['server_cpu_ms_per_request']} ms per request")
    print(f"{'':<18}{'requests':>9}{'errors':>8}{'p50 ms':>11}{'p90 ms':>11}{'p99 ms':>11}{'max ms':>11}")
    rows: list[tuple[str, dict[str, Any]]] = []
    for name, key in (("ping before", "reference_ping"), ("ping after", "reference_ping_after")):
        if result[key]:
            rows.append((name, {"requests": "", "errors": result[key]["errors"], **result[key]["all"]}))
    rows += [(name, {"requests": "", "errors": "", **load[name]}) for name in ("intent", "risk")]
    rows.append(("all decisions", {"requests": load["requests"], "errors": load["errors"], **load["all"]}))
    rows += [(f"  from {w['from_s']} s", w) for w in load["windows"]]
    for name, r in rows:
        print(f"{name:<18}{r['requests']!s:>9}{r['errors']!s:>8}{r['p50_ms']:>11}{r['p90_ms']:>11}{r['p99_ms']:>11}"
              f"{r['max_ms']:>11}")
    print(f"decision log: {log['answered']} answered, {log['logged']} logged, {log['lost']} lost")
    print(f"load average (1 min): {result['load_average_1m_before']} before, {result['load_average_1m_after']} "
          f"after, on {result['cpus']} CPUs")


if __name__ == "__main__":
    main()
