"""The framework on data whose answer is known: separable → AUC 1.0, shuffled labels → AUC about 0.5."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apps.propensity.metrics import best_f1_threshold, binary_metrics, lift_at
from apps.propensity.training import fit_binary

FEATURES = ["signal", "noise"]


def _frame(rng: np.random.Generator, n: int, separable: bool) -> tuple[pd.DataFrame, np.ndarray]:
    y = rng.integers(0, 2, n)
    signal = np.where(y == 1, rng.uniform(1.0, 2.0, n), rng.uniform(-2.0, -1.0, n))
    X = pd.DataFrame({"signal": signal, "noise": rng.normal(size=n)})
    return X, (y if separable else rng.permutation(y))


def _fit(separable: bool, seed: int = 7):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    return fit_binary(features=FEATURES, train=_frame(rng, 600, separable), validation=_frame(rng, 200, separable),
                      holdout=_frame(rng, 400, separable), seed=seed)


def test_perfectly_separable_set_scores_auc_one_for_model_and_baseline() -> None:
    outcome = _fit(separable=True)
    assert outcome.metrics["auc"] == 1.0
    assert outcome.metrics["f1"] == 1.0
    assert outcome.baseline_metrics["auc"] == 1.0
    assert outcome.calibration["method"] == "isotonic"


def test_shuffled_labels_score_near_chance() -> None:
    outcome = _fit(separable=False)
    assert 0.42 <= outcome.metrics["auc"] <= 0.58
    assert 0.42 <= outcome.baseline_metrics["auc"] <= 0.58


def test_training_slice_with_one_class_is_refused_with_a_reason() -> None:
    X = pd.DataFrame({"signal": [1.0, 2.0, 3.0], "noise": [0.0, 0.0, 0.0]})
    with pytest.raises(ValueError, match="training slice has only one class"):
        fit_binary(features=FEATURES, train=(X, [1, 1, 1]), validation=(X, [0, 1, 0]), holdout=(X, [0, 1, 0]))


def test_binary_metrics_exact_values() -> None:
    # given: 10 rows, 3 positives, scores ranking two positives on top
    y = [1, 1, 0, 0, 1, 0, 0, 0, 0, 0]
    p = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
    # when
    m = binary_metrics(y, p, threshold=0.55)
    # then: predicted positives are the top four: TP 2, FP 2, FN 1
    assert (m["precision"], m["recall"], m["f1"]) == (0.5, 0.6667, 0.5714)
    assert m["auc"] == round(19 / 21, 4)
    assert m["lift_top_decile"] == round(1 / 0.3, 4)
    assert lift_at(np.array(y), np.array(p), 0.2) == pytest.approx(1 / 0.3)
    assert best_f1_threshold(y, p) == pytest.approx(0.75)  # half way between the 2nd and 3rd scores
