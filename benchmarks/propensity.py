"""Propensity models: training time per model and online scoring latency for one customer.

Run: python benchmarks/propensity.py [--customers 1000] [--scores 1000]
Uses a throw-away hub (in-memory graph store, in-memory SQLite, temp artifacts folder): trains
next_touchpoint on the shared touchpoint file (gradient boosting blended with its logistic-regression baseline,
reported on the seeded 20% holdout beside the baselines and the reference LSTM), loads `--customers`
demo customers through ingest, trains churn and csat on their journeys, then scores single customers online the way
`GET /api/customers/{id}/scores` does (graph read + features + model + explanation), in process and
through the API. Prints a table and writes benchmarks/results/propensity.json.
Target (issue 5): one customer scored in under 10 ms p99.
"""
from __future__ import annotations

import argparse
import random
import time
from typing import Any

import hubs


def timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def touchpoint_figures(version: Any) -> dict[str, Any]:
    """Holdout figures of both next_touchpoint candidates, the baselines and the reference LSTM."""
    keys = ("precision", "recall", "f1", "auc", "top1_accuracy", "top3_accuracy")
    base = version.baseline_metrics
    return {"served": version.metrics["model"], "selection": version.metrics["selection"]["reason"],
            "candidates": version.metrics["candidates"],
            "logistic_regression": {k: base[k] for k in keys[:4]},
            "popularity": {k: base[k] for k in keys[4:]}, "markov": base["markov"],
            "rule_visit_in_input": base["rule_visit_in_input"], "reference_lstm": version.metrics["reference_lstm"]}


def touchpoint_rows(figures: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for name, c in figures["candidates"].items():
        served = " (served)" if name == figures["served"] else ""
        rows.append((f"  {name}{served}: conversion P / R / F1 / AUC; next top-1 / top-3; training wall (CPU)",
                     f"{c['precision']} / {c['recall']} / {c['f1']} / {c['auc']}; {c['top1_accuracy']} / "
                     f"{c['top3_accuracy']}; {c['train_seconds']} s (CPU {c['train_cpu_seconds']} s)"))
    lr, rule, ref = figures["logistic_regression"], figures["rule_visit_in_input"], figures["reference_lstm"]
    rows.append(("  baselines: logistic regression P / R / F1; `visit` seen P / R / F1",
                 f"{lr['precision']} / {lr['recall']} / {lr['f1']}; {rule['precision']} / {rule['recall']} / "
                 f"{rule['f1']}"))
    rows.append(("  baselines: popularity top-1 / top-3; Markov top-1 / top-3",
                 f"{figures['popularity']['top1_accuracy']} / {figures['popularity']['top3_accuracy']}; "
                 f"{figures['markov']['top1_accuracy']} / {figures['markov']['top3_accuracy']}"))
    rows.append(("  reference LSTM P / R / F1", f"{ref['precision']} / {ref['recall']} / {ref['f1']}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--scores", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    hubs.in_process_hub()
    from rest_framework.test import APIClient

    from apps.core.models import ApiKey
    from apps.propensity import scoring, services

    rows: list[tuple[str, str]] = []
    results: dict[str, Any] = {"customers": args.customers}

    version, seconds = timed(lambda: services.train_model(name="next_touchpoint", write_scores=False))
    results["train_next_touchpoint_s"] = round(seconds, 2)
    results["next_touchpoint"] = touchpoint_figures(version)
    rows.append(("train next_touchpoint (40,000 sequences)",
                 f"{seconds:.2f} s (serves {version.metrics['model']}, F1 {version.metrics['f1']})"))
    rows += touchpoint_rows(results["next_touchpoint"])

    records = hubs.demo_records(args.customers)
    _, seconds = timed(lambda: hubs.ingest(records))
    rows.append((f"ingest demo ({len(records)} events, {args.customers} customers)", f"{seconds:.1f} s"))
    for name in ("churn", "csat"):
        version, seconds = timed(lambda n=name: services.train_model(name=n, write_scores=False))
        results[f"train_{name}_s"] = round(seconds, 2)
        rows.append((f"train {name} ({version.metrics['train_rows']} training rows)",
                     f"{seconds:.2f} s (AUC {version.metrics['auc']}, baseline {version.baseline_metrics['auc']})"))
        count, seconds = timed(lambda n=name: services.write_scores_to_graph(name=n))
        results[f"write_{name}_scores_s"] = round(seconds, 2)
        rows.append((f"score all {count} customers with {name} and write to the graph", f"{seconds:.2f} s"))

    customers = sorted({r["customer_id"] for r in records})
    ids = [random.Random(args.seed).choice(customers) for _ in range(args.scores)]
    scoring.score_customer("churn", ids[0])  # load the active models once, as a serving process would
    scoring.score_customer("csat", ids[0])
    for label, fn in (("churn", lambda c: scoring.score_customer("churn", c)),
                      ("churn + csat", scoring.score_customer_all_models)):
        stats = hubs.latencies(fn, ids)
        results[f"online_{label.replace(' + ', '_and_')}"] = stats
        rows.append((f"online score, {label}, one customer (p50 / p95 / p99; CPU p50 / p99)",
                     f"{stats['p50_ms']} / {stats['p95_ms']} / {stats['p99_ms']} ms; "
                     f"{stats['cpu_p50_ms']} / {stats['cpu_p99_ms']} ms"))
    _, raw = ApiKey.issue("bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    stats = hubs.latencies(lambda c: client.get(f"/api/customers/{c}/scores"), ids[: max(1, args.scores // 2)])
    results["api_customer_scores"] = stats
    rows.append(("GET /api/customers/{id}/scores in process (p50 / p95 / p99; CPU p50 / p99)",
                 f"{stats['p50_ms']} / {stats['p95_ms']} / {stats['p99_ms']} ms; "
                 f"{stats['cpu_p50_ms']} / {stats['cpu_p99_ms']} ms"))
    results["target_p99_ms"] = 10

    width = max(len(r[0]) for r in rows)
    for what, value in rows:
        print(f"{what:<{width}}  {value}")
    hubs.write_results(results, hubs.ROOT / "benchmarks" / "results" / "propensity.json")

if __name__ == "__main__":
    main()
