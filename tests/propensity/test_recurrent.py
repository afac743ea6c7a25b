"""The recurrent candidate on journeys whose answer is known: an order rule is learned perfectly,
shuffled labels score at chance, and a stored model scores exactly as the one that was trained."""
from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from apps.propensity import registry
from apps.propensity.recurrent import RecurrentConfig, RecurrentFit, fit_recurrent
from apps.propensity.touchpoints import Journeys, report

TOKENS = ["A", "B", "C", "D", "E"]
TOY = RecurrentConfig(embedding=8, hidden=16, learning_rate=0.02, batch_size=32, max_epochs=60, patience=5)


def _journeys(n: int, seed: int, shuffled: bool = False) -> Journeys:
    """Random journeys of 2-5 steps; they convert when an A comes before a B (so the order matters and a
    bag of counts cannot tell), and the next step always follows the last one in the cycle A→B→C→D→E→A."""
    rng = np.random.default_rng(seed)
    inputs = [[TOKENS[i] for i in rng.integers(0, 5, rng.integers(2, 6))] for _ in range(n)]
    labels = np.array([int("A" in s and "B" in s[s.index("A") + 1:]) for s in inputs])
    nexts = [TOKENS[(TOKENS.index(s[-1]) + 1) % 5] for s in inputs]
    return Journeys(inputs=inputs, labels=rng.permutation(labels) if shuffled else labels, nexts=nexts)


def _fit(shuffled: bool = False) -> RecurrentFit:
    train, validation = _journeys(600, 1, shuffled), _journeys(200, 2, shuffled)
    return fit_recurrent(train=(train.inputs, train.labels, train.nexts),
                         validation=(validation.inputs, validation.labels, validation.nexts), seed=0, config=TOY)


@pytest.fixture(scope="session")  # pytest-django runs database tests first, splitting the module
def toy_fit() -> RecurrentFit:
    return _fit()


def test_an_order_rule_and_a_next_step_rule_are_learned_perfectly(toy_fit: RecurrentFit) -> None:
    # given: a GRU trained on 600 journeys, stopped and calibrated on 200 others
    holdout = _journeys(400, 3)
    # when
    metrics = report(toy_fit.model, holdout)
    # then: 400 unseen journeys (60 converting) are ranked, labelled and continued without a mistake
    assert (metrics["n"], metrics["positives"]) == (400, 60)
    assert (metrics["auc"], metrics["f1"], metrics["top1_accuracy"]) == (1.0, 1.0, 1.0)
    assert toy_fit.calibration == {"method": "isotonic", "fitted_on": "validation", "rows": 200}


def test_the_steps_that_make_a_journey_convert_explain_it(toy_fit: RecurrentFit) -> None:
    answer = toy_fit.model.score(["A", "C", "B"], k=2)
    assert answer["converts"] is True and len(answer["next_touchpoints"]) == 2 and answer["next_touchpoints"][0] == "C"
    assert {item["feature"] for item in answer["explanation"][:2]} == {"step_1", "step_3"}
    assert [item["value"] for item in answer["explanation"][:2]] in (["A", "B"], ["B", "A"])
    assert toy_fit.model.score(["B", "C", "A"])["converts"] is False


def test_shuffled_labels_score_near_chance() -> None:
    metrics = report(_fit(shuffled=True).model, _journeys(400, 3, shuffled=True))
    assert 0.42 <= metrics["auc"] <= 0.58


@pytest.mark.django_db
def test_stored_model_scores_exactly_as_trained_and_holds_no_torch_object(toy_fit, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # given
    settings.ARTIFACTS_DIR = str(tmp_path)
    holdout = _journeys(400, 3)
    version = registry.register_model(name="next_touchpoint", model=toy_fit.model, metrics={}, baseline_metrics={},
                                      features=[], train_window=(None, datetime(2026, 1, 1, tzinfo=UTC)))
    # when
    loaded = registry.load_model(version)
    # then
    assert np.array_equal(loaded.conversion_proba(holdout.inputs), toy_fit.model.conversion_proba(holdout.inputs))
    assert loaded.next_ranked(holdout.inputs, 3) == toy_fit.model.next_ranked(holdout.inputs, 3)
    assert loaded.threshold == toy_fit.model.threshold
    assert b"torch" not in Path(version.artifact).read_bytes()
    assert all(isinstance(w, np.ndarray) for w in loaded.weights.values())


def test_same_seed_same_model() -> None:
    # given two runs on the same rows with the same seed
    first, second = _fit(shuffled=True), _fit(shuffled=True)
    holdout = _journeys(50, 3)
    # then
    assert first.epochs == second.epochs
    assert np.array_equal(first.model.conversion_proba(holdout.inputs), second.model.conversion_proba(holdout.inputs))


def test_configuration_overrides_come_from_gru_prefixed_params() -> None:
    config = RecurrentConfig.from_params({"gru_hidden": "16", "gru_learning_rate": "0.01", "num_leaves": 3})
    assert config == RecurrentConfig(hidden=16, learning_rate=0.01)


@pytest.mark.django_db
def test_evaluate_command_scores_the_recurrent_model_when_it_is_the_active_version(  # type: ignore[no-untyped-def]
        toy_fit, settings, tmp_path) -> None:
    # given: the toy GRU registered as next_touchpoint, and 400 unseen toy journeys in the data-set format
    settings.ARTIFACTS_DIR = str(tmp_path)
    registry.clear_cache()
    registry.register_model(name="next_touchpoint", model=toy_fit.model, metrics={}, baseline_metrics={},
                            features=[], train_window=(None, None))
    holdout = _journeys(400, 3)
    path = tmp_path / "toy.tsv"
    rows = zip(holdout.inputs, holdout.nexts, holdout.labels, strict=True)
    path.write_text("".join(f"{i}\t{' '.join(s)}\t{n}{' visit' if y else ''}\n" for i, (s, n, y) in enumerate(rows)))
    out = io.StringIO()
    # when
    call_command("evaluate", "next_touchpoint", "--data", str(path), stdout=out)
    registry.clear_cache()
    # then
    metrics = json.loads(out.getvalue())["metrics"]
    assert (metrics["n"], metrics["auc"], metrics["f1"], metrics["top1_accuracy"]) == (400, 1.0, 1.0, 1.0)


def test_journeys_without_a_next_touchpoint_train_conversion_only() -> None:
    # given: the last journey's target was empty, so it has no next touchpoint ("")
    inputs, labels, nexts = [["A"], ["B", "A"], ["C"], ["A", "C"]], np.array([1, 0, 1, 0]), ["B", "C", "A", ""]
    # when
    fit = fit_recurrent(train=(inputs, labels, nexts), validation=(inputs, labels, nexts), seed=0,
                        config=RecurrentConfig(embedding=4, hidden=4, max_epochs=2))
    # then: "" is not a touchpoint the model can name
    assert fit.model.vocab == ["A", "B", "C"] and len(fit.model.next_ranked([["A"]], 5)[0]) == 3
