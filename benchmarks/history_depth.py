"""Intent and risk decisions for callers with short and long histories, through granian on loopback.

Run: python benchmarks/history_depth.py [--depths 0,50,200,1000,5000] [--callers-per-depth 20]
     [--calls 600] [--server granian|gunicorn] [--workers 1 --threads 2]
Builds the same throw-away hub as benchmarks/decisions.py (benchmarks/hubs.py) and then gives each group
of `--callers-per-depth` callers that many more events before their calls: web page views spread
over the 90 days before the run, as a caller who also browses the site has. Each group's decisions
are then sent one at a time over one keep-alive connection (`--calls` of each kind, after 50 not
counted), and the server's CPU per request is read from /proc. The reference in the same run is the
group with no extra events: a decision reads the caller's latest calls (intent) and latest 200 events
and the day's failed identity checks (risk), so its cost should not grow with everything the caller
ever did. Prints a table and writes benchmarks/results/history_depth.json.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import time
from typing import Any

import hubs

ROOT = hubs.ROOT
DAY_MS = 86_400_000
WARM_CALLS = 50


def add_history(depths: list[int], per_depth: int) -> Any:
    """The writer `hubs.served_hub` runs before serving: group i of the callers (by phone) gets
    depths[i] page views each, in the graph and the event store, as an ingest would write them."""

    def write(phones: list[str]) -> None:
        from apps.events.services import EventCopy
        from graph import decisions, journeys
        from graph import schema as gs

        needed = per_depth * len(depths)
        if len(phones) < needed:
            raise SystemExit(f"{len(depths)} depths x {per_depth} callers need --customers {needed} or more")
        now = int(time.time() * 1000)
        copy = EventCopy("")
        for group, depth in enumerate(depths):
            records = []
            for phone in phones[group * per_depth:(group + 1) * per_depth]:
                customer = decisions.customer_for_identifier("phone", phone) or ""
                step = 90 * DAY_MS // max(depth, 1)
                records += [gs.EventRecord(event_id=f"depth-{customer}-{k}", type="page_view", channel="web",
                                           ts=now - 90 * DAY_MS + k * step, customer_id=customer,
                                           source="history_depth") for k in range(depth)]
            for start in range(0, len(records), 5000):
                part = records[start:start + 5000]
                copy.add(part, journeys.write_events(part))
        copy.flush()

    return write


def one_at_a_time(hub: hubs.ServedHub, kind: str, phones: list[str], calls: int, pids: list[int]) -> dict[str, Any]:
    """`calls` decisions of one kind for these callers in turn, each sent after the last answered."""
    headers = {"Authorization": f"Api-Key {hub.key}", "Content-Type": "application/json"}
    connection = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=10)
    latencies: list[float] = []
    cpu_before = 0.0
    for n in range(WARM_CALLS + calls):
        if n == WARM_CALLS:
            cpu_before = hubs.cpu_seconds(pids)
        body = {"phone": phones[n % len(phones)], "contact_id": f"depth-{kind}-{n}"}
        body |= {"email": f"user{n % 997}@example.com"} if kind == "risk" else {"channel": "VOICE"}
        started = time.perf_counter()
        connection.request("POST", f"/api/decisions/{kind}", json.dumps(body), headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"{kind}: HTTP {response.status} for a caller of this group")
        if n >= WARM_CALLS:
            latencies.append((time.perf_counter() - started) * 1000)
    connection.close()
    return {**hubs.stats(latencies), "server_cpu_ms_per_request": round(
        (hubs.cpu_seconds(pids) - cpu_before) * 1000 / calls, 3)}


def main() -> None:
    args = arguments()
    depths = [int(d) for d in args.depths.split(",")]
    args.customers = max(args.customers, args.callers_per_depth * len(depths))
    rows = []
    with hubs.served_hub(args, "jh-bench-depth-", add_history(depths, args.callers_per_depth)) as hub:
        load_before = round(os.getloadavg()[0], 2)
        pids = hub.pids()
        for group, depth in enumerate(depths):
            phones = hub.phones[group * args.callers_per_depth:(group + 1) * args.callers_per_depth]
            for kind in ("intent", "risk"):
                rows.append({"extra_events": depth, "kind": kind,
                             **one_at_a_time(hub, kind, phones, args.calls, pids)})
    for row in rows:
        reference = next(r for r in rows if r["kind"] == row["kind"] and r["extra_events"] == depths[0])
        row["p50_x_reference"] = round(row["p50_ms"] / reference["p50_ms"], 2)
        row["cpu_x_reference"] = round(row["server_cpu_ms_per_request"] / reference["server_cpu_ms_per_request"], 2)
    result = {"depths": depths, "callers_per_depth": args.callers_per_depth, "calls": args.calls,
              "server": args.server, "rows": rows, "cpus": os.cpu_count(), "load_average_1m_before": load_before,
              "load_average_1m_after": round(os.getloadavg()[0], 2)}
    report(result)
    hubs.write_results(result, args.out)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depths", default="0,50,200,1000,5000",
                        help="extra events per caller, one group of callers each; the first is the reference")
    parser.add_argument("--callers-per-depth", type=int, default=20)
    parser.add_argument("--calls", type=int, default=600, help="decisions of each kind per group")
    hubs.server_arguments(parser)
    parser.set_defaults(customers=200)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "history_depth.json"))
    return parser.parse_args()


def report(result: dict[str, Any]) -> None:
    print(f"{'extra events':>12}  {'kind':<7}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'server CPU/req':>16}{'p50 x ref':>11}{'CPU x ref':>11}")
    for r in result["rows"]:
        print(f"{r['extra_events']:>12}  {r['kind']:<7}{r['p50_ms']:>9}{r['p90_ms']:>9}{r['p99_ms']:>9}"
              f"{r['max_ms']:>9}{r['server_cpu_ms_per_request']:>16}{r['p50_x_reference']:>11}{r['cpu_x_reference']:>11}")
    print(f"load average (1 min): {result['load_average_1m_before']} before, {result['load_average_1m_after']} "
          f"after, on {result['cpus']} CPUs")


if __name__ == "__main__":
    main()
