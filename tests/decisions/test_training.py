"""`train`/`evaluate` for intent and risk through the propensity framework, on the shared data sets."""
from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from apps.propensity.models import ModelVersion

pytestmark = pytest.mark.django_db


def _evaluate(name: str, path) -> dict:  # type: ignore[no-untyped-def]
    out = StringIO()
    call_command("evaluate", name, "--data", str(path), stdout=out)
    return json.loads(out.getvalue())


def test_train_intent_reads_the_shared_data_when_the_graph_is_empty_and_beats_popularity(shared_data, tmp_path):
    # when the intent model is trained with an empty graph
    call_command("train", "intent", stdout=StringIO())
    # then it learned from the shared data set, on a time-ordered holdout of 4,453 calls
    version = ModelVersion.objects.get(name="intent", is_active=True)
    assert version.params["data_source"].endswith("intents/interactions.csv")
    metrics, baseline = version.metrics, version.baseline_metrics["popularity"]
    assert metrics["n"] == baseline["n"] == 4453
    assert (metrics["top1"], metrics["top3"]) == (0.7929, 0.865)
    assert (baseline["top1"], baseline["top3"]) == (0.0371, 0.1125)
    assert metrics["mrr"] > baseline["mrr"] and metrics["ndcg5"] > baseline["ndcg5"]
    assert metrics["ece"] < 0.02
    assert metrics["bands"]["confirm"]["precision"] > 0.95
    assert metrics["bands"]["confirm"]["share"] > 0.7
    # and evaluate scores the active model on any file in the interactions format
    small = tmp_path / "calls.csv"
    small.write_text("USER_ID,ITEM_ID,TIMESTAMP\n1,HL_NE,1000\n1,HL_AS,90000\n1,HL_DS,180000\n")
    result = _evaluate("intent", small)
    assert (result["model"], result["version"]) == ("intent", 1)
    assert result["metrics"]["n"] == 3
    assert result["metrics"]["top1"] == round(2 / 3, 4)
    # beside the popularity baseline fitted with the model, on the same three calls
    assert result["baseline"]["popularity"]["n"] == 3 and result["baseline"]["popularity"]["top1"] < 0.5


def test_train_risk_learns_from_the_callers_history_and_leaves_customer_class_out(shared_data):
    # when risk is trained on the fraud data set
    out = StringIO()
    call_command("train", "risk", stdout=out)
    # then the history model (call_duration = the caller's historic average) is active on a 15% holdout
    version = ModelVersion.objects.get(name="risk", is_active=True)
    assert version.params["variant"] == "caller_history"
    assert version.params["excluded_features"] == ["customer_class"]
    assert "customer_class" not in version.features and "avg_call_seconds" in version.features
    metrics = version.metrics
    assert metrics["n"] == 2678 and metrics["fraud_rate"] == 0.0967
    assert metrics["auc"] == 0.9722  # target: at least 0.95
    # and the report says why customer_class stays out: alone it fakes a perfect model
    assert "label" in metrics["excluded"]["customer_class"] and metrics["customer_class_rule_auc"] == 1.0
    # beside the prior and the call-time model it replaces, both near chance on the same holdout
    assert version.baseline_metrics["prior"]["auc"] == 0.5
    assert 0.4 < version.baseline_metrics["call_time"]["auc"] < 0.6
    assert version.gate["qualifies"] is True and version.gate["baseline"] == "prior"
    # and evaluate prints the model's metrics and the baseline's on every row of a file
    result = _evaluate("risk", shared_data / "fraud_calls" / "train.csv")
    assert result["metrics"]["variant"] == "caller_history" and result["metrics"]["n"] == 17850
    assert result["metrics"]["auc"] >= 0.95 and result["baseline"]["prior"]["auc"] == 0.5


def test_training_on_a_file_with_too_few_calls_is_refused(tmp_path):
    from django.core.management.base import CommandError

    tiny = tmp_path / "calls.csv"
    tiny.write_text("USER_ID,ITEM_ID,TIMESTAMP\n1,HL_NE,1000\n")
    with pytest.raises(CommandError, match="only 1 calls with an intent"):
        call_command("train", "intent", "--data", str(tiny), stdout=StringIO())


def test_train_intent_uses_the_graph_once_it_holds_enough_calls(monkeypatch):
    from apps.decisions import training
    from tests.decisions.factories import SEQUENCES, write_calls

    # given 60 calls with an intent in the graph and a threshold of 50
    monkeypatch.setattr(training, "MIN_GRAPH_CALLS", 50)
    for n in range(12):
        write_calls(f"g{n}", SEQUENCES["AC" if n % 2 else "CC"], start=1_700_000_000_000 + n * 1000)
    # when the model is trained without a file
    call_command("train", "intent", stdout=StringIO())
    # then it learned from the graph's calls
    version = ModelVersion.objects.get(name="intent", is_active=True)
    assert version.params["data_source"] == "graph"
    assert version.metrics["n"] == 9
