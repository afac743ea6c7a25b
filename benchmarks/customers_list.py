"""The customer list, the segment and the attribute filters at 100,000 customers: before (offset pages,
attributes read from the graph) and after (pages by id, the segment index, attributes narrowed in the
store), in the same process on the same store.

Run: python benchmarks/customers_list.py [--customers 100000] [--repeats 7]
Builds a throw-away hub (SQLite file in a temp dir, the embedded graph store in memory), writes
`--customers` customers with one event each straight through the graph gateway, then gives each a
name and one of eight segments through `apps.customers.services.set_attributes` (what the demo does).
Then, `--repeats` times each, it times:
- the segment filter: the customers of one segment as the journey filter used to find them (every
  customer's attributes read from the graph and compared in Python) and as it does now
  (`selectors.customers_in_segment`, one indexed query), and the per-segment map the KPI recompute reads;
- the attribute filter (`attribute=key:value`) for a rare value (one customer's name) and a common one
  (a segment): every customer's attributes read and compared, against only the customers the store
  finds holding the attribute's name and the value's text;
- a page of 50 customer ids and of 50 list rows (the Customers page's read) at the start, middle and
  end of the id order, by offset and by id (`after`);
- `GET /api/customers` through Django's test client at the middle, by `offset` and by `after`.
Reports the median and the best wall time of each (ms). Writes benchmarks/results/customers_list.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SEGMENTS = ["young professional", "family", "retired", "student", "gold", "silver", "small business", "premium"]


def environment(workdir: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeyhub.settings.local")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'db.sqlite3'}")
    os.environ.update({"GRAPH_URL": "embedded://memory", "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "testserver",
                       "EVENTS_STORE_ENABLED": "false", "JOBS_IN_PROCESS": "false",
                       "ARTIFACTS_DIR": str(workdir / "artifacts")})


def load(count: int) -> float:
    from apps.customers import services
    from graph import journeys
    from graph.schema import EventRecord

    started = time.perf_counter()
    for start in range(0, count, 5000):
        journeys.write_events([EventRecord(event_id=f"e{i}", type="call", channel="voice", ts=1_700_000_000_000 + i,
                                           customer_id=f"cust-{i:07d}")
                               for i in range(start, min(count, start + 5000))])
    attributes = {f"cust-{i:07d}": {"name": f"Person {i}", "segment": SEGMENTS[i % len(SEGMENTS)]}
                  for i in range(count)}
    for start in range(0, count, 10_000):
        chunk = dict(list(attributes.items())[start:start + 10_000])
        services.set_attributes(chunk)
    return time.perf_counter() - started


def timed(fn: Callable[[], Any], repeats: int) -> dict[str, Any]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    size = len(result) if isinstance(result, list | dict) else None
    return {"median_ms": round(statistics.median(times), 2), "best_ms": round(min(times), 2), "items": size}


def segment_before(segment: str) -> list[str]:
    """What the journey filter did before the segment index: every customer's attributes, compared."""
    from graph import journeys

    attributes = journeys.customer_attributes(None)
    return sorted(c for c, attrs in attributes.items() if str(attrs.get("segment")) == segment)


def attribute_filter(key: str, value: str, *, in_store: bool) -> list[str]:
    """The customers the journey filter `attribute=key:value` keeps: every customer's attributes read and
    compared (before), or only those the store finds holding the name and the value's text (after)."""
    from graph import journeys

    attributes = journeys.customer_attributes(None, mentioning={key: value} if in_store else None)
    return sorted(c for c, attrs in attributes.items() if str(attrs.get(key)) == value)


def kpi_segments_before() -> dict[str, str]:
    from graph import journeys

    return {c: str(a["segment"]) for c, a in journeys.customer_attributes(None).items()
            if a.get("segment") not in (None, "")}


def run(count: int, repeats: int) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from apps.core.models import ApiKey
    from apps.customers import selectors
    from graph import journeys

    call_command("migrate", verbosity=0)
    loaded = load(count)
    print(f"loaded {count:,} customers in {loaded:.1f} s", flush=True)
    assert segment_before("gold") == selectors.customers_in_segment("gold")
    assert kpi_segments_before() == selectors.segments()
    figures: dict[str, Any] = {"segment filter": {
        "before (graph attributes)": timed(lambda: segment_before("gold"), repeats),
        "after (segment index)": timed(lambda: selectors.customers_in_segment("gold"), repeats)},
        "KPI segments": {"before (graph attributes)": timed(kpi_segments_before, repeats),
                         "after (segment index)": timed(selectors.segments, repeats)}}
    for key, value in (("name", f"Person {count // 3}"), ("segment", "gold")):
        assert attribute_filter(key, value, in_store=False) == attribute_filter(key, value, in_store=True)
        figures[f"attribute filter {key}:{value}"] = {
            "before (every customer's attributes)": timed(
                lambda k=key, v=value: attribute_filter(k, v, in_store=False), repeats),  # type: ignore[misc]
            "after (narrowed in the store)": timed(
                lambda k=key, v=value: attribute_filter(k, v, in_store=True), repeats)}  # type: ignore[misc]
    positions = {"start": 0, "middle": count // 2, "end": count - 50}
    for name, read in (("ids", journeys.customer_ids), ("list rows", journeys.customer_rows)):
        for where, offset in positions.items():
            after = f"cust-{offset - 1:07d}" if offset else ""
            by_offset = timed(lambda o=offset, r=read: r(offset=o, limit=50), repeats)  # type: ignore[misc]
            by_id = timed(lambda a=after, r=read: r(after=a, limit=50), repeats)  # type: ignore[misc]
            figures[f"page of {name} at the {where}"] = {"by offset": by_offset, "by id (after)": by_id}
    _, key = ApiKey.issue("bench", scopes=["read"])
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")
    middle = count // 2
    figures["GET /api/customers at the middle"] = {
        "by offset": timed(lambda: client.get("/api/customers", {"offset": middle}).json()["results"], repeats),
        "by id (after)": timed(lambda: client.get("/api/customers", {"after": f"cust-{middle - 1:07d}"})
                               .json()["results"], repeats)}
    return {"customers": count, "repeats": repeats, "load_seconds": round(loaded, 1), "figures": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="journeyhub-customers-") as tmp:
        environment(Path(tmp))
        report = run(args.customers, args.repeats)
    report["load_average"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))
    out = ROOT / "benchmarks" / "results" / "customers_list.json"
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
