"""Training and evaluation of the decision models, registered through the propensity registry.

Intent trains on the calls with an intent in the graph; when the graph holds too few (a fresh demo),
it reads the intents data set from DATA_DIR instead, and records which it used. Risk always
trains on the labelled fraud_calls data set: the graph has no fraud labels.
"""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings

from apps.decisions import selectors
from apps.decisions.modeling import intent as intent_model
from apps.decisions.modeling import risk as risk_model
from apps.propensity.specs import TrainRequest, TrainResult

MIN_GRAPH_CALLS = 1000


def shared_file(*parts: str) -> Path:
    path = Path(settings.DATA_DIR, *parts)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found (the sample data sets live in data/; DATA_DIR points elsewhere)")
    return path


def intent_training_calls(since_ms: int | None = None, until_ms: int | None = None) -> tuple[pd.DataFrame, str]:
    """Calls with an intent from the graph, or the shared intents data set when the graph has too few."""
    from apps.events import engine as analytics_engine
    from apps.events.analytics import frames

    events = frames.events_frame(analytics_engine.get_engine(),
                                 analytics_engine.EventFilter(since_ms=since_ms, until_ms=until_ms))
    calls = intent_model.calls_from_events(events)
    if len(calls) >= MIN_GRAPH_CALLS:
        return calls, "graph"
    path = shared_file("intents", "interactions.csv")
    return _within(intent_model.read_interactions(path), since_ms, until_ms), str(path)


def _window(stamps: pd.Series) -> tuple[datetime | None, datetime | None]:
    if stamps.empty:
        return None, None
    return (datetime.fromtimestamp(int(stamps.min()) / 1000, tz=UTC),
            datetime.fromtimestamp(int(stamps.max()) / 1000, tz=UTC))


def train_intent(request: TrainRequest) -> TrainResult:
    """Fit the transition model on a time-ordered split; metrics beside popularity on the same holdout."""
    since_ms, until_ms = _ms(request.since), _ms(request.until)
    request.progress(0.05, "reading calls")
    if request.data is not None:
        calls, source = intent_model.read_interactions(request.data), str(request.data)
        calls = _within(calls, since_ms, until_ms)
    else:
        calls, source = intent_training_calls(since_ms, until_ms)
    if len(calls) < 50:
        raise ValueError(f"only {len(calls)} calls with an intent in {source}: too few to train an intent model")
    order = int(request.params.get("order", 3))
    strength = float(request.params.get("strength", 2.0))
    request.progress(0.2, f"fitting on {len(calls)} calls from {source}")
    model, baseline, test = intent_model.train_intent_model(calls, order=order, strength=strength)
    model.baseline = baseline  # so `evaluate` scores the same baseline on any file
    request.progress(0.7, f"evaluating on {len(test)} held-out calls")
    high, low = selectors.thresholds_for("VOICE")
    metrics = intent_model.evaluate_intent(model, test, high=high, low=low)
    baseline_metrics = intent_model.evaluate_intent(baseline, test, high=high, low=low)
    return TrainResult(
        model=model, metrics=metrics, baseline_metrics={"popularity": baseline_metrics},
        features=[f"last {model.order} sub-intents", "time since the last call (bucketed)"],
        train_window=_window(calls["ts"]),
        calibration={"method": "isotonic on top-1 probability", "points": len(model.calibration_x)},
        params={"order": model.order, "strength": model.strength, "gap_edges_ms": list(model.gap_edges_ms),
                "holdout": "last 15% of calls by time", "data_source": source, "thresholds": [high, low]})


def _ms(when: datetime | None) -> int | None:
    return int(when.timestamp() * 1000) if when else None


def _within(calls: pd.DataFrame, since_ms: int | None, until_ms: int | None) -> pd.DataFrame:
    if since_ms is not None:
        calls = calls[calls["ts"] >= since_ms]
    if until_ms is not None:
        calls = calls[calls["ts"] < until_ms]
    return calls.reset_index(drop=True)


def evaluate_intent_file(model: Any, path: str | Path) -> dict[str, Any]:
    """A model on every call of an interactions file (each call's history = the earlier calls in it)."""
    calls = intent_model.read_interactions(path)
    cases = intent_model.examples(calls)
    high, low = selectors.thresholds_for("VOICE")
    baseline = getattr(model, "baseline", None)
    name = "popularity"
    if baseline is None:  # versions stored before the model kept its baseline
        baseline, name = intent_model.PopularityModel().fit(cases), "popularity_fitted_on_this_file"
    return {**intent_model.evaluate_intent(model, cases, high=high, low=low),
            "baseline": {name: intent_model.evaluate_intent(baseline, cases, high=high, low=low)}}


def train_risk(request: TrainRequest) -> TrainResult:
    """Fit the history model on a stratified split; the prior and the old call-time model are the baselines."""
    from apps.decisions.modeling.caller_profile import FEATURES

    path = request.data or shared_file("fraud_calls", "train.csv")
    request.progress(0.05, f"reading {path}")
    calls = _within(risk_model.read_fraud_calls(path), _ms(request.since), _ms(request.until))
    if calls["label"].nunique() < 2:
        raise ValueError(f"{path}: need both fraud and legitimate calls to train, got {len(calls)} calls of one label")
    thresholds = selectors.rule_thresholds(selectors.active_rules())
    request.progress(0.3, f"fitting on the profiles of {len(calls)} callers")
    model, train, test = risk_model.train_history_model(calls, seed=request.seed or risk_model.SPLIT_SEED)
    request.progress(0.8, f"evaluating on {len(test)} held-out calls")
    metrics = risk_model.evaluate_history(model, calls, test, thresholds)
    metrics.update({"excluded": risk_model.EXCLUDED_FEATURES, "customer_class_rule_auc":
                    risk_model.customer_class_rule(test), "note": RISK_NOTE})
    call_time = risk_model.RiskModel(variant=risk_model.CALL_TIME).fit(train)
    return TrainResult(
        model=model, metrics=metrics,
        baseline_metrics={"prior": risk_model.prior_baseline(train, test, thresholds),
                          "call_time": risk_model.evaluate_risk(call_time, test, thresholds)},
        features=list(FEATURES), train_window=_window(calls["ts"]),
        calibration={"method": "isotonic", "fitted_on": "15% of the training calls"},
        params={"variant": model.variant, "excluded_features": sorted(risk_model.EXCLUDED_FEATURES),
                "holdout": "stratified 15%", "data_source": str(path), "thresholds": thresholds,
                "call_duration": "the caller's historic average call duration (a profile fact known before the call)"})


RISK_NOTE = ("features are what the caller's history says before the call: call_duration in fraud_calls is the "
             "caller's historic average (looked up by phone before the call), so it is used; customer_class is "
             "excluded because it maps one to one onto the label (customer_class_rule_auc shows what it would fake)")


def evaluate_risk_file(model: Any, path: str | Path) -> dict[str, Any]:
    """A risk model on every call of a labelled fraud_calls file, beside the prior of the same rows."""
    calls = risk_model.read_fraud_calls(path)
    thresholds = selectors.rule_thresholds(selectors.active_rules())
    if isinstance(model, risk_model.HistoryRiskModel):
        metrics = risk_model.evaluate_history(model, calls, calls, thresholds)
    else:
        metrics = risk_model.evaluate_risk(model, calls, thresholds)
    return {**metrics, "baseline": {"prior": risk_model.prior_baseline(calls, calls, thresholds)}}
