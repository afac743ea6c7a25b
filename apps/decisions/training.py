"""Training and evaluation of the decision models, registered through the propensity registry.

Intent trains on the calls with an intent in the graph; when the graph holds too few (a fresh demo),
it reads the intents data set from SHARED_DATA_DIR instead, and records which it used. Risk always
trains on the labelled fraud_calls data set: the graph has no fraud labels.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings

from apps.decisions import selectors
from apps.decisions.modeling import intent as intent_model
from apps.decisions.modeling import risk as risk_model

MIN_GRAPH_CALLS = 1000
Progress = Callable[[float, str], None]


def _quiet(fraction: float, message: str) -> None:
    return None


def shared_file(*parts: str) -> Path:
    path = Path(settings.SHARED_DATA_DIR, *parts)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found (set SHARED_DATA_DIR to the shared data folder)")
    return path


def intent_training_calls(since_ms: int | None = None, until_ms: int | None = None) -> tuple[pd.DataFrame, str]:
    """Calls with an intent from the graph, or the shared intents data set when the graph has too few."""
    from graph import journeys

    calls = intent_model.calls_from_events(journeys.events_frame(since_ms=since_ms, until_ms=until_ms))
    if len(calls) >= MIN_GRAPH_CALLS:
        return calls, "graph"
    path = shared_file("intents", "interactions.csv")
    calls = intent_model.read_interactions(path)
    if since_ms is not None:
        calls = calls[calls["ts"] >= since_ms]
    if until_ms is not None:
        calls = calls[calls["ts"] < until_ms]
    return calls.reset_index(drop=True), str(path)


def _window(stamps: pd.Series) -> tuple[datetime | None, datetime | None]:
    if stamps.empty:
        return None, None
    return (datetime.fromtimestamp(int(stamps.min()) / 1000, tz=UTC),
            datetime.fromtimestamp(int(stamps.max()) / 1000, tz=UTC))


def train_intent(*, calls: pd.DataFrame | None = None, source: str = "given", trained_by: str = "system",
                 activate: bool = True, progress: Progress = _quiet) -> Any:
    """Fit the transition model on a time-ordered split and register it with metrics beside popularity."""
    from apps.propensity.registry import register_model

    if calls is None:
        progress(0.05, "reading calls")
        calls, source = intent_training_calls()
    if len(calls) < 50:
        raise ValueError(f"only {len(calls)} calls with an intent: too few to train an intent model")
    progress(0.2, f"fitting on {len(calls)} calls from {source}")
    model, baseline, test = intent_model.train_intent_model(calls)
    progress(0.7, f"evaluating on {len(test)} held-out calls")
    high, low = selectors.thresholds_for("VOICE")
    metrics = intent_model.evaluate_intent(model, test, high=high, low=low)
    baseline_metrics = intent_model.evaluate_intent(baseline, test, high=high, low=low)
    version = register_model(
        name="intent", model=model, metrics=metrics, baseline_metrics={"popularity": baseline_metrics},
        features=[f"last {model.order} sub-intents", "time since the last call (bucketed)"],
        train_window=_window(calls["ts"]), trained_by=trained_by, activate=activate,
        calibration={"method": "isotonic on top-1 probability", "points": len(model.calibration_x)},
        params={"order": model.order, "strength": model.strength, "gap_edges_ms": list(model.gap_edges_ms),
                "holdout": "last 15% of calls by time", "data_source": source, "thresholds": [high, low]})
    progress(1.0, f"registered intent v{version.version}")
    return version


def evaluate_intent_file(path: str | Path) -> dict[str, Any]:
    """The active intent model on every call of an interactions file (history = earlier calls in it)."""
    from apps.propensity.registry import load_active

    loaded = load_active("intent")
    if loaded is None:
        raise LookupError("no active intent model: run `python manage.py train intent` first")
    calls = intent_model.read_interactions(path)
    cases = intent_model.examples(calls)
    high, low = selectors.thresholds_for("VOICE")
    return {"model": f"intent v{loaded.version.version}", "data": str(path),
            "metrics": intent_model.evaluate_intent(loaded.model, cases, high=high, low=low),
            "baseline_popularity_fitted_on_this_file": intent_model.evaluate_intent(
                intent_model.PopularityModel().fit(cases), cases, high=high, low=low)}


def train_risk(*, calls: pd.DataFrame | None = None, source: str = "given", trained_by: str = "system",
               activate: bool = True, progress: Progress = _quiet) -> Any:
    """Fit call-time and leaky variants on a stratified split; register the call-time one."""
    from apps.propensity.registry import register_model

    if calls is None:
        path = shared_file("fraud_calls", "train.csv")
        progress(0.05, f"reading {path}")
        calls, source = risk_model.read_fraud_calls(path), str(path)
    train, test = risk_model.stratified_split(calls)
    thresholds = selectors.rule_thresholds(selectors.active_rules())
    progress(0.3, f"fitting on {len(train)} calls")
    active = risk_model.RiskModel(variant=risk_model.CALL_TIME).fit(train)
    leaky = risk_model.RiskModel(variant=risk_model.WITH_LEAK).fit(train)
    progress(0.8, f"evaluating on {len(test)} held-out calls")
    metrics = risk_model.evaluate_risk(active, test, thresholds)
    metrics["with_leaky_features"] = risk_model.evaluate_risk(leaky, test, thresholds)
    metrics["leak_note"] = ("customer_class maps one to one onto fraud_label and call_duration is only known "
                            "after the call; the active model excludes both")
    version = register_model(
        name="risk", model=active, metrics=metrics,
        baseline_metrics={"prior": risk_model.prior_baseline(train, test, thresholds)},
        features=active.features, train_window=_window(calls["ts"]), trained_by=trained_by, activate=activate,
        params={"variant": active.variant, "excluded_leaky_features": list(risk_model.LEAKY_FEATURES),
                "holdout": "stratified 15%", "data_source": source, "thresholds": thresholds})
    progress(1.0, f"registered risk v{version.version}")
    return version


def evaluate_risk_file(path: str | Path) -> dict[str, Any]:
    from apps.propensity.registry import load_active

    loaded = load_active("risk")
    if loaded is None:
        raise LookupError("no active risk model: run `python manage.py train risk` first")
    calls = risk_model.read_fraud_calls(path)
    thresholds = selectors.rule_thresholds(selectors.active_rules())
    return {"model": f"risk v{loaded.version.version}", "data": str(path),
            "metrics": risk_model.evaluate_risk(loaded.model, calls, thresholds),
            "baseline_prior_of_this_file": risk_model.prior_baseline(calls, calls, thresholds)}
