"""Online scoring latency of every model, one customer or caller at a time, as a serving process sees it.

Run: python benchmarks/scoring.py [--customers 500] [--n 1000] [--seed 0]
A throw-away hub (in-memory graph store, in-memory SQLite, temp artifacts folder): loads `--customers`
demo customers through ingest, trains the six models (intent and risk on their data sets, next_touchpoint
on the touchpoint file, next_event, churn and csat on the loaded journeys), activates any version the gate
held back (this measures speed, not quality), then times `--n` online answers per model for random
customers: the graph read and the model together, the way the API and the decision endpoints answer.
Prints a table and writes benchmarks/results/scoring.json. Target: p99 ≤ 10 ms for every model.
"""
from __future__ import annotations

import argparse
import random
import time
from typing import Any

import hubs

MODELS = ("intent", "risk", "next_touchpoint", "next_event", "churn", "csat")


def online(name: str) -> Any:
    """The online answer of one model for one customer, through the product's own functions."""
    from apps.decisions import services as decisions
    from apps.propensity import registry, scoring, selectors

    if name == "intent":
        return lambda c: decisions.decide_intent(customer_id=c, log=False)
    if name == "risk":
        return lambda c: decisions.decide_risk(customer_id=c, log=False)
    if name == "next_event":
        return lambda c: scoring.next_events_for(c, k=3)
    if name == "next_touchpoint":
        def touchpoints(c: str) -> Any:
            model = registry.load_active("next_touchpoint")
            assert model is not None
            return model.model.score([e["type"] for e in selectors.customer_event_rows(c)][-12:])
        return touchpoints
    return lambda c: scoring.score_customer(name, c)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    hubs.in_process_hub()
    from apps.propensity import registry, services
    from apps.propensity.models import ModelVersion

    records = hubs.demo_records(args.customers)
    hubs.ingest(records)
    results: dict[str, Any] = {"customers": args.customers, "events": len(records), "target_p99_ms": 10}
    rows = []
    for name in MODELS:
        start = time.perf_counter()
        params = {"churn_days": 60} if name == "churn" else {}
        version = services.train_model(name=name, params=params, write_scores=False)
        if not version.is_active:
            registry.activate(name=name, version=version.version)
        results[f"train_{name}_s"] = round(time.perf_counter() - start, 2)
    customers = sorted({r["customer_id"] for r in records})
    rng = random.Random(args.seed)
    ids = [rng.choice(customers) for _ in range(args.n)]
    for name in MODELS:
        fn = online(name)
        fn(ids[0])  # load the active version once, as a serving process would
        stats = hubs.latencies(fn, ids)
        gate = ModelVersion.objects.get(name=name, is_active=True).gate
        results[name] = {**stats, "gate": gate.get("reason", "")}
        rows.append((name, f"{stats['p50_ms']} / {stats['p99_ms']} ms; CPU {stats['cpu_p50_ms']} / "
                           f"{stats['cpu_p99_ms']} ms"))
    width = max(len(r[0]) for r in rows)
    print(f"{'model':<{width}}  online answer, one customer: p50 / p99 wall; CPU p50 / p99")
    for what, value in rows:
        print(f"{what:<{width}}  {value}")
    hubs.write_results(results, hubs.ROOT / "benchmarks" / "results" / "scoring.json")

if __name__ == "__main__":
    main()
