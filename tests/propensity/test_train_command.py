"""`train` on small journey data registers a model per type with metrics beside its baseline and scores
customers; a background run records its progress."""
from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from apps.dashboard.views.models import metric_rows
from apps.propensity import registry
from apps.propensity.models import ModelVersion, TrainingRun
from apps.propensity.tasks import queue_training, run_training
from graph import journeys
from tests.propensity import synthetic

pytestmark = pytest.mark.django_db

METRIC_KEYS = {"auc", "precision", "recall", "f1", "lift_top_decile", "brier", "threshold", "base_rate", "n",
               "positives"}


@pytest.fixture(autouse=True)
def _fresh_registry():  # type: ignore[no-untyped-def]
    registry.clear_cache()
    yield
    registry.clear_cache()


def test_train_churn_and_csat_register_versions_beside_baselines_and_write_scores() -> None:
    # given
    synthetic.load()
    out = io.StringIO()
    # when
    call_command("train", "churn", "--param", "churn_days=30", stdout=out)
    call_command("train", "csat", stdout=out)
    # then
    churn = ModelVersion.objects.get(name="churn")
    csat = ModelVersion.objects.get(name="csat")
    # churn on this synthetic bank is so easy that its baseline is perfect too: the gate stores it unserved
    assert (churn.version, churn.is_active, csat.version, csat.is_active) == (1, False, 1, True)
    assert churn.gate["reason"] == ("auc 1.0000 does not beat the logistic_regression baseline's 1.0000 by the "
                                    "margin 0.001 (difference +0.0000)")
    assert "not activated: auc 1.0000 does not beat" in out.getvalue()
    registry.activate(name="churn", version=1)
    call_command("score", "churn", verbosity=0)
    for version in (churn, csat):
        assert METRIC_KEYS <= set(version.metrics) and METRIC_KEYS <= set(version.baseline_metrics)
        assert version.metrics["split"] == "time" and version.metrics["holdout_fraction"] >= 0.15
        assert version.calibration and version.trained_by == "manage.py train"
    assert churn.metrics["auc"] >= 0.9 and csat.metrics["auc"] >= 0.9
    for stored in (churn.metrics, churn.baseline_metrics):  # the holdout's curves, for the models page
        assert stored["roc"]["fpr"][0] == 0.0 and stored["roc"]["tpr"][-1] == 1.0
        assert len(stored["calibration"]["predicted"]) == len(stored["calibration"]["observed"]) > 1
    assert churn.params["churn_days"] == 30 and churn.train_start is not None
    assert {"identifier:phone", "n_identifiers", "last_bigram:login>login"} <= set(churn.features)
    assert "[  0%] training churn" in out.getvalue() and "registered csat v1 (active)" in out.getvalue()
    # and every customer carries a churn score, the complainers who closed their account first
    top = journeys.customers_by_score("churn_score", limit=5)
    assert len(top) == 5 and all(0.0 <= value <= 1.0 for _, value in top)


def serve_latest(*names: str) -> None:
    """Activate each model's latest version by hand when the gate did not (a synthetic bank can make a
    baseline as perfect as the model)."""
    for name in names:
        latest = ModelVersion.objects.filter(name=name).order_by("-version").first()
        if latest is not None and not latest.is_active:
            registry.activate(name=name, version=latest.version)


def test_unknown_model_and_too_short_history_are_clear_errors() -> None:
    with pytest.raises(CommandError, match="unknown model 'nope'; known models: .*churn"):
        call_command("train", "nope")
    with pytest.raises(CommandError, match="no events in the graph"):
        call_command("train", "churn")
    with pytest.raises(CommandError, match="--since 'yesterday' is not an ISO date"):
        call_command("train", "churn", "--since", "yesterday")


def test_background_run_records_progress_and_the_version() -> None:
    # given
    synthetic.load(customers=40)
    run = queue_training(name="csat", trained_by="ops")
    # when
    finished = run_training(run.pk)
    # then
    assert (finished.status, finished.progress) == (TrainingRun.Status.SUCCEEDED, 1.0)
    assert finished.model_version is not None and finished.model_version.trained_by == "ops"
    assert finished.started is not None and finished.finished is not None


def test_background_run_failure_is_recorded_with_its_reason() -> None:
    run = queue_training(name="churn")
    finished = run_training(run.pk)
    assert finished.status == TrainingRun.Status.FAILED
    assert "no events in the graph" in finished.message and "Traceback" in finished.error


def test_evaluate_prints_one_json_object_with_exact_keys(tmp_path, shared_data, api_client) -> None:  # type: ignore[no-untyped-def]
    # given: a model trained on the first 3,000 touchpoint rows, evaluated on the next 1,000
    lines = (shared_data / "touchpoints" / "train.tsv").read_text().splitlines(keepends=True)
    (tmp_path / "train.tsv").write_text("".join(lines[:3000]))
    (tmp_path / "check.tsv").write_text("".join(lines[3000:4000]))
    call_command("train", "next_touchpoint", "--data", str(tmp_path / "train.tsv"), stdout=io.StringIO())
    version = ModelVersion.objects.get(name="next_touchpoint")
    if not version.is_active:  # a model of 3,000 rows may not clear the gate; a person may still serve it
        registry.activate(name="next_touchpoint", version=version.version)
    out = io.StringIO()
    # when
    call_command("evaluate", "next_touchpoint", "--data", str(tmp_path / "check.tsv"), stdout=out)
    # then
    result = json.loads(out.getvalue())
    assert set(result) == {"model", "version", "data", "metrics", "baseline"}
    assert (result["model"], result["version"], result["metrics"]["n"]) == ("next_touchpoint", 1, 1000)
    assert set(result["metrics"]) == METRIC_KEYS | {"top1_accuracy", "top3_accuracy"}
    # beside its baselines on the same 1,000 rows
    assert set(result["baseline"]) == {"logistic_regression", "markov"}
    assert result["baseline"]["logistic_regression"]["n"] == 1000
    assert set(result["baseline"]["markov"]) == {"top1_accuracy", "top3_accuracy"}
    # and the registry shows both candidates' holdout figures beside the reference, through the API and
    # on the models page
    stored = api_client.get("/api/models/next_touchpoint/").json()["active"]["metrics"]
    assert set(stored["candidates"]) == {"lightgbm"} and stored["model"] == stored["selection"]["served"]
    assert stored["reference_lstm"] == {"precision": 0.64, "recall": 0.47, "f1": 0.54}
    rows = {row["metric"] for row in metric_rows(ModelVersion.objects.get(name="next_touchpoint"))}
    assert {"candidates.lightgbm.f1", "candidates.lightgbm.top3_accuracy", "reference_lstm.f1"} <= rows


def test_evaluate_without_an_active_model_says_what_to_do(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "x.tsv"
    path.write_text("1\tABC\tvisit\n")
    with pytest.raises(CommandError, match="has no active version; run `manage.py train next_touchpoint`"):
        call_command("evaluate", "next_touchpoint", "--data", str(path))


def test_evaluate_churn_and_csat_on_an_events_file_in_the_ingest_format(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # given: models trained on one synthetic bank, and a CSV of another one (different seed)
    synthetic.load(customers=60)
    call_command("train", "churn", "--param", "churn_days=30", "--no-scores", verbosity=0)
    call_command("train", "csat", "--no-scores", verbosity=0)
    serve_latest("churn", "csat")
    path = tmp_path / "other.csv"
    columns = ["customer_id", "event_id", "event_type", "channel", "timestamp", "outcome", "score"]
    lines = [",".join(columns)] + [",".join(str(r.get(c, "")) for c in columns)
                                   for r in synthetic.journeys(customers=60, seed=11)]
    path.write_text("\n".join(lines) + "\n")
    for name in ("churn", "csat"):
        out = io.StringIO()
        # when
        call_command("evaluate", name, "--data", str(path), stdout=out)
        # then
        result = json.loads(out.getvalue())
        assert (result["model"], result["version"]) == (name, 1)
        assert set(result["metrics"]) == METRIC_KEYS and result["metrics"]["auc"] >= 0.9
        baseline = result["baseline"]["logistic_regression"]
        assert set(baseline) == METRIC_KEYS and baseline["n"] == result["metrics"]["n"]


def test_evaluate_reports_a_bad_row_by_number(tmp_path) -> None:  # type: ignore[no-untyped-def]
    synthetic.load(customers=30)
    call_command("train", "csat", "--no-scores", verbosity=0)
    path = tmp_path / "bad.csv"
    path.write_text("customer_id,event_id,event_type,channel,timestamp\nc1,e1,survey_response,email,1700000000000\n"
                    "c1,e2,,email,1700000000001\n")
    with pytest.raises(CommandError, match=r"bad.csv: row 2: no event type"):
        call_command("evaluate", "csat", "--data", str(path))


def test_until_limits_the_training_window() -> None:
    # given: 300 days of journeys from 2023-11-14
    synthetic.load(customers=40)
    # when
    call_command("train", "csat", "--until", "2024-06-01", "--no-scores", verbosity=0)
    # then
    version = ModelVersion.objects.get(name="csat")
    assert version.train_end is not None and version.train_end.isoformat() < "2024-06-01"
    assert version.train_start is not None and version.train_start.isoformat() >= "2023-11-14"


@pytest.mark.parametrize(("pair", "message"), [
    ("output_model=/tmp/x.txt", "--param: unknown training parameter 'output_model'; allowed: "),
    ("num_threads=64", "--param: unknown training parameter 'num_threads'; allowed: "),
    ("churn_days=0", "--param: training parameter 'churn_days' must be between 1 and 3650, got 0"),
    ("num_leaves=many", "--param: training parameter 'num_leaves' must be an integer, got 'many'"),
])
def test_train_command_refuses_parameters_outside_the_allow_list_before_training(pair: str, message: str) -> None:
    # given: the command line is held to the same list as the API
    # when
    with pytest.raises(CommandError) as refused:
        call_command("train", "churn", "--param", pair, verbosity=0)
    # then: nothing was trained
    assert str(refused.value).startswith(message)
    assert ModelVersion.objects.count() == 0
