"""Decision models (intent, risk), plugged into the propensity framework's `train`/`evaluate` commands.

Importing this package registers the specs; the heavy training code loads only when a spec runs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from apps.propensity.specs import ModelSpec, TrainRequest, TrainResult, register_spec


def _train_intent(request: TrainRequest) -> TrainResult:
    from apps.decisions.training import train_intent

    return train_intent(request)


def _evaluate_intent(model: Any, path: Path) -> dict[str, Any]:
    from apps.decisions.training import evaluate_intent_file

    return evaluate_intent_file(model, path)


def _train_risk(request: TrainRequest) -> TrainResult:
    from apps.decisions.training import train_risk

    return train_risk(request)


def _evaluate_risk(model: Any, path: Path) -> dict[str, Any]:
    from apps.decisions.training import evaluate_risk_file

    return evaluate_risk_file(model, path)


register_spec("intent", ModelSpec(
    name="intent", train=_train_intent, evaluate=_evaluate_intent, gate_metric="top1",
    description="A caller's next call intent from their latest sub-intents (calibrated transition model); "
                "data: calls with an intent in the graph, else DATA_DIR/intents/interactions.csv"))
register_spec("risk", ModelSpec(
    name="risk", train=_train_risk, evaluate=_evaluate_risk,
    description="Fraud probability of a call from the caller's history before it (0-1000 score); "
                "data: DATA_DIR/fraud_calls/train.csv (call_duration = historic average call duration; "
                "customer_class excluded: it maps one to one onto the label)"))
