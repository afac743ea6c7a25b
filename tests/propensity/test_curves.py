"""The ROC and reliability points stored with each trained binary model, for the models page."""
from __future__ import annotations

from apps.propensity.metrics import curves


def test_roc_and_reliability_points_of_a_small_known_holdout() -> None:
    stored = curves([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], bins=2)

    assert stored == {"roc": {"fpr": [0.0, 0.0, 0.5, 0.5, 1.0], "tpr": [0.0, 0.5, 0.5, 1.0, 1.0]},
                      "calibration": {"predicted": [0.225, 0.6], "observed": [0.5, 0.5]}}


def test_a_holdout_with_one_class_has_no_curves() -> None:
    assert curves([1, 1, 1], [0.2, 0.5, 0.9]) == {}


def test_long_roc_curves_are_thinned_but_keep_both_ends() -> None:
    y = [i % 2 for i in range(1000)]
    p = [i / 1000 for i in range(1000)]
    roc = curves(y, p, points=20)["roc"]
    assert len(roc["fpr"]) <= 21
    assert (roc["fpr"][0], roc["tpr"][0], roc["fpr"][-1], roc["tpr"][-1]) == (0.0, 0.0, 1.0, 1.0)
