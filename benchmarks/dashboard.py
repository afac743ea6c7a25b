"""Server render time of every dashboard page on the demo data (target: under 300 ms each).

Run: python benchmarks/dashboard.py [--customers 3000] [--repeat 5]
Loads the demo data set into an in-memory graph store and a throw-away database (nothing on disk is
touched), signs in an admin through Django's test client and times each page's full server-side
handling (view, selectors, figures, template), first request and then the median and worst of
`--repeat` more. Prints a table and writes benchmarks/results/dashboard.json.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeyhub.settings.test")
TARGET_MS = 300.0


def pages(customer: str, kpi: str | None) -> dict[str, str]:
    out = {
        "overview": "/",
        "journey explorer (to card dispute, 5 steps)":
            "/journeys/explorer/?direction=to&event=call_fraud_dispute&steps=5",
        "journey explorer (from start, 5 steps)": "/journeys/explorer/?steps=5",
        "explorer drill-down (node)": "/journeys/explorer/customers/?direction=to&event=call_fraud_dispute&steps=5"
                                      "&node=1:call_fraud_dispute",
        "top journeys": "/journeys/top/",
        "funnel (3 steps)": "/journeys/funnel/?step=login&step=view_transactions&step=call_fraud_dispute",
        "customers": "/customers/",
        "customer 360": f"/customers/{customer}/",
        "similarity (customer)": f"/similarity/?customer={customer}",
        "models": "/models/",
        "decisions": "/decisions/",
        "ingest": "/ingest/",
        "widgets": "/widgets/",
    }
    if kpi:
        out["KPI widget"] = f"/widgets/{kpi}/"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=None, help="demo customers (default: the demo's own)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--train", action="store_true", help="also train the demo models (slower set-up)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from django.test.runner import DiscoverRunner
    from django.test.utils import setup_test_environment

    setup_test_environment()
    DiscoverRunner(verbosity=0).setup_databases()
    started = time.perf_counter()
    demo_args = ["--no-serve", "--train" if args.train else "--no-train"]
    if args.customers:
        demo_args += ["--customers", str(args.customers)]
    call_command("demo", *demo_args, stdout=io.StringIO())
    load_s = time.perf_counter() - started

    from apps.journeys.models import KpiDefinition
    from graph import journeys

    counts = journeys.graph_counts()
    customer = _busy_customer()
    kpi = KpiDefinition.objects.filter(active=True).values_list("slug", flat=True).first()
    admin = User.objects.create_user("bench-admin", password="bench-password-long", is_staff=True)
    client = Client()
    client.force_login(admin)

    rows: list[dict[str, Any]] = []
    for name, url in pages(customer, kpi).items():
        first, status = _time(client, url)
        times = [_time(client, url)[0] for _ in range(args.repeat)]
        median = statistics.median(times)
        rows.append({"page": name, "url": url, "status": status, "first_ms": round(first, 1),
                     "median_ms": round(median, 1), "max_ms": round(max(times), 1),
                     "meets_target": median < TARGET_MS})
    _print(rows, counts, load_s)
    out = ROOT / "benchmarks" / "results" / "dashboard.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"target_ms": TARGET_MS, "repeat": args.repeat, "graph": counts,
                               "load_seconds": round(load_s, 1), "machine": platform.platform(),
                               "cpus": os.cpu_count(), "pages": rows}, indent=2) + "\n")
    print(f"\nwrote {out.relative_to(ROOT)}")


def _busy_customer() -> str:
    """A customer with a card dispute call and a long history: the page a strategist would open."""
    from apps.journeys import selectors

    frame = selectors.events()
    disputes = frame[frame["type"] == "call_fraud_dispute"]["customer_id"].unique()
    pool = frame[frame["customer_id"].isin(disputes)] if len(disputes) else frame
    return str(pool.groupby("customer_id").size().idxmax())


def _time(client: Any, url: str) -> tuple[float, int]:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.content[:300]!r}")
    return elapsed, response.status_code


def _print(rows: list[dict[str, Any]], counts: dict[str, int], load_s: float) -> None:
    print(f"demo data: {counts.get('event', 0):,} events, {counts.get('customer', 0):,} customers "
          f"(loaded in {load_s:.1f} s)")
    width = max(len(r["page"]) for r in rows)
    print(f"{'page':<{width}}  {'first ms':>9}  {'median ms':>9}  {'max ms':>8}  target {TARGET_MS:.0f} ms")
    for r in rows:
        print(f"{r['page']:<{width}}  {r['first_ms']:>9.1f}  {r['median_ms']:>9.1f}  {r['max_ms']:>8.1f}  "
              f"{'ok' if r['meets_target'] else 'SLOW'}")


if __name__ == "__main__":
    main()
