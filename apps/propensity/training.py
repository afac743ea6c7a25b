"""Fitting a calibrated binary classifier and its baseline on the same split.

Gradient boosting (LightGBM) does the ranking; an isotonic map fitted on a validation slice turns its
scores into probabilities; the decision threshold is chosen on that same validation slice, never on
the holdout. A logistic regression on the same rows is the baseline it has to beat. When the two rank
the validation slice about equally, the mean of their probabilities (a blend) usually ranks better
than either, so the blend is a third candidate: the served model is the one the validation slice
ranks best, and the activation gate then judges it against the baseline on the holdout.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from apps.propensity.metrics import best_f1_threshold, binary_metrics, curves
from apps.propensity.specs import Contribution

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary", "learning_rate": 0.05, "num_leaves": 7, "feature_fraction": 0.8,
    "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0, "verbose": -1, "num_threads": 1,
}
DEFAULT_ROUNDS = 150
SELECTION_MARGIN = 0.01


@dataclass
class BinaryModel:
    """A boosted classifier with its calibration and threshold; picklable, scored from numpy rows."""

    features: list[str]
    booster: lgb.Booster
    calibrator: IsotonicRegression | None
    threshold: float

    def raw_scores(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(X, num_threads=1), dtype=float)

    def predict_proba(self, X: np.ndarray | pd.DataFrame) -> np.ndarray:
        raw = self.raw_scores(_matrix(X, self.features))
        return self.calibrator.predict(raw) if self.calibrator is not None else raw

    def explain(self, row: np.ndarray, top: int = 5) -> list[Contribution]:
        """The features that moved this row's score most (LightGBM SHAP-style contributions, log-odds)."""
        matrix = np.asarray(row, dtype=np.float64).reshape(1, -1)
        contrib = np.asarray(self.booster.predict(matrix, pred_contrib=True, num_threads=1))[0][:-1]
        order = np.argsort(-np.abs(contrib), kind="stable")[:top]
        return [Contribution(feature=self.features[i], value=float(matrix[0, i]),
                             contribution=round(float(contrib[i]), 4)) for i in order if contrib[i] != 0]


@dataclass
class LinearModel:
    """The logistic-regression baseline over a subset (`features`) of the model's input columns.

    It takes the same full rows as the boosted model (`input_features`), so it can be served in its
    place when it does better on the validation slice.
    """

    features: list[str]
    pipeline: Any
    threshold: float
    input_features: list[str] = field(default_factory=list)

    def _columns(self, X: np.ndarray | pd.DataFrame) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            return _matrix(X, self.features)
        matrix = np.asarray(X, dtype=np.float64)
        if self.input_features and matrix.shape[1] == len(self.input_features):
            return matrix[:, [self.input_features.index(c) for c in self.features]]
        return matrix

    def predict_proba(self, X: np.ndarray | pd.DataFrame) -> np.ndarray:
        return np.asarray(self.pipeline.predict_proba(self._columns(X))[:, 1])

    def explain(self, row: np.ndarray, top: int = 5) -> list[Contribution]:
        """coefficient × standardized value for each feature."""
        values = self._columns(np.asarray(row, dtype=float).reshape(1, -1))
        scaler, lr = self.pipeline[0], self.pipeline[-1]
        contrib = lr.coef_[0] * scaler.transform(values)[0]
        order = np.argsort(-np.abs(contrib), kind="stable")[:top]
        return [Contribution(feature=self.features[i], value=float(values[0, i]),
                             contribution=round(float(contrib[i]), 4)) for i in order if contrib[i] != 0]


@dataclass
class BlendModel:
    """The mean of the boosted model's and the baseline's log-odds, calibrated by a logistic map (Platt):
    strictly increasing, so the blend's ranking (and AUC) survives calibration without the ties an
    isotonic step function would add."""

    boosted: BinaryModel
    linear: LinearModel
    calibrator: LogisticRegression | None
    threshold: float

    @property
    def features(self) -> list[str]:
        return self.boosted.features

    def raw_scores(self, X: np.ndarray | pd.DataFrame) -> np.ndarray:
        matrix = _matrix(X, self.boosted.features)
        logits = (_logit(self.boosted.raw_scores(matrix)) + _logit(self.linear.predict_proba(matrix))) / 2.0
        return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=float)

    def predict_proba(self, X: np.ndarray | pd.DataFrame) -> np.ndarray:
        raw = self.raw_scores(X)
        if self.calibrator is None:
            return raw
        return np.asarray(self.calibrator.predict_proba(_logit(raw).reshape(-1, 1))[:, 1], dtype=float)

    def calibrate(self, X_val: np.ndarray, y_val: np.ndarray) -> dict[str, Any]:
        self.calibrator = LogisticRegression().fit(_logit(self.raw_scores(X_val)).reshape(-1, 1), y_val)
        return {"method": "platt", "fitted_on": "validation", "rows": int(len(y_val))}

    def explain(self, row: np.ndarray, top: int = 5) -> list[Contribution]:
        """Half of each part's contribution per feature (each part is half the blend)."""
        merged: dict[str, list[float]] = {}
        for part in (self.boosted, self.linear):
            for item in part.explain(row, top=top):
                entry = merged.setdefault(item.feature, [item.value, 0.0])
                entry[1] += item.contribution / 2.0
        ranked = sorted(merged.items(), key=lambda kv: -abs(kv[1][1]))[:top]
        return [Contribution(feature=name, value=value, contribution=round(contrib, 4))
                for name, (value, contrib) in ranked if contrib != 0]


Classifier = BinaryModel | LinearModel | BlendModel


def _logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.asarray(np.log(clipped / (1 - clipped)), dtype=float)


@dataclass(frozen=True)
class FitOutcome:
    model: Classifier
    baseline: LinearModel
    metrics: dict[str, Any]
    baseline_metrics: dict[str, Any]
    calibration: dict[str, Any]


def _matrix(X: np.ndarray | pd.DataFrame, features: list[str]) -> np.ndarray:
    if isinstance(X, pd.DataFrame):
        X = X.reindex(columns=features, fill_value=0.0).to_numpy(dtype=np.float64)
    return np.asarray(X, dtype=np.float64)


def _check_labels(y: np.ndarray, where: str) -> None:
    if len(y) == 0:
        raise ValueError(f"the {where} slice is empty; widen the time window or add data")
    if len(np.unique(y)) < 2:
        raise ValueError(f"the {where} slice has only one class (label={int(y[0])}, {len(y)} rows); "
                         "widen the time window or add data")


def fit_binary(*, features: list[str], train: tuple[pd.DataFrame, Any], validation: tuple[pd.DataFrame, Any],
               holdout: tuple[pd.DataFrame, Any], params: dict[str, Any] | None = None,
               baseline_features: list[str] | None = None, categorical: list[str] | None = None,
               seed: int = 0) -> FitOutcome:
    """Train on `train`, calibrate and pick the threshold on `validation`, report both models on `holdout`."""
    (X_tr, y_tr), (X_val, y_val), (X_ho, y_ho) = [(_matrix(X, features), np.asarray(y, dtype=int))
                                                  for X, y in (train, validation, holdout)]
    _check_labels(y_tr, "training")
    if len(y_ho) == 0:
        raise ValueError("the holdout slice is empty; widen the time window or add data")
    options = dict(params or {})
    rounds = int(options.pop("rounds", DEFAULT_ROUNDS))
    lgb_params = {**DEFAULT_PARAMS, "seed": seed, "min_data_in_leaf": max(2, min(20, len(y_tr) // 20)), **options}
    cat_idx = [features.index(c) for c in (categorical or [])]
    dataset = lgb.Dataset(X_tr, label=y_tr, feature_name=[f"f{i}" for i in range(len(features))],
                          categorical_feature=cat_idx or "auto", free_raw_data=False)
    booster = lgb.train(lgb_params, dataset, num_boost_round=rounds)
    model = BinaryModel(features=features, booster=booster, calibrator=None, threshold=0.5)
    calibration = _calibrate(model, X_val, y_val)
    model.threshold = best_f1_threshold(y_val, model.predict_proba(X_val)) if len(np.unique(y_val)) == 2 else 0.5
    baseline = _fit_baseline(features, baseline_features or features, X_tr, y_tr, X_val, y_val)
    chosen, selection = _select(model, baseline, X_val, y_val)
    if isinstance(chosen, BlendModel):
        calibration = chosen.calibrate(X_val, y_val)
        chosen.threshold = best_f1_threshold(y_val, chosen.predict_proba(X_val))
    elif chosen is not model:
        calibration = {"method": "none", "reason": "baseline served"}
    return FitOutcome(
        model=chosen, baseline=baseline, calibration=calibration,
        metrics={"model": selection["served"], **binary_metrics(y_ho, chosen.predict_proba(X_ho), chosen.threshold),
                 "selection": selection, **curves(y_ho, chosen.predict_proba(X_ho))},
        baseline_metrics={"model": "logistic_regression",
                          **binary_metrics(y_ho, baseline.predict_proba(X_ho), baseline.threshold),
                          **curves(y_ho, baseline.predict_proba(X_ho))},
    )


def _select(model: BinaryModel, baseline: LinearModel, X_val: np.ndarray, y_val: np.ndarray
            ) -> tuple[Classifier, dict[str, Any]]:
    """The candidate that ranks the validation slice best (never judged on the holdout): the baseline
    only when clearly better than boosting, the blend when it beats both."""
    if len(np.unique(y_val)) < 2:
        return model, {"served": "lightgbm", "reason": "validation slice has one class"}
    blend = BlendModel(boosted=model, linear=baseline, calibrator=None, threshold=0.5)
    auc = {"lightgbm": float(roc_auc_score(y_val, model.raw_scores(X_val))),
           "logistic_regression": float(roc_auc_score(y_val, baseline.predict_proba(X_val))),
           "blend": float(roc_auc_score(y_val, blend.raw_scores(X_val)))}
    served = "logistic_regression" if auc["logistic_regression"] > auc["lightgbm"] + SELECTION_MARGIN else "lightgbm"
    if auc["blend"] > max(auc["lightgbm"], auc["logistic_regression"]):
        served = "blend"
    candidates: dict[str, Classifier] = {"lightgbm": model, "logistic_regression": baseline, "blend": blend}
    chosen = candidates[served]
    return chosen, {"served": served, "validation_auc": {k: round(v, 4) for k, v in auc.items()}}


def _calibrate(model: BinaryModel, X_val: np.ndarray, y_val: np.ndarray) -> dict[str, Any]:
    if len(y_val) < 10 or len(np.unique(y_val)) < 2:
        return {"method": "none", "reason": f"validation slice too small or one class ({len(y_val)} rows)"}
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(model.raw_scores(X_val), y_val)
    model.calibrator = iso
    return {"method": "isotonic", "fitted_on": "validation", "rows": int(len(y_val))}


def _fit_baseline(features: list[str], chosen: list[str], X_tr: np.ndarray, y_tr: np.ndarray,
                  X_val: np.ndarray, y_val: np.ndarray) -> LinearModel:
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    baseline = LinearModel(features=list(chosen), pipeline=pipeline, threshold=0.5, input_features=list(features))
    pipeline.fit(baseline._columns(X_tr), y_tr)
    if len(np.unique(y_val)) == 2:
        baseline.threshold = best_f1_threshold(y_val, baseline.predict_proba(X_val))
    return baseline
