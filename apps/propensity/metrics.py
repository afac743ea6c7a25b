"""Evaluation metrics shared by every model, so numbers beside each other mean the same thing."""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import brier_score_loss, f1_score, precision_score, recall_score, roc_auc_score


def binary_metrics(y_true: Any, proba: Any, threshold: float) -> dict[str, float | int | None]:
    """AUC, precision/recall/F1 of the positive class at `threshold`, lift in the top decile, Brier score."""
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(proba, dtype=float)
    if len(y) == 0:
        raise ValueError("cannot evaluate on an empty data set")
    predicted = (p >= threshold).astype(int)
    both_classes = len(np.unique(y)) == 2
    return {
        "auc": round(float(roc_auc_score(y, p)), 4) if both_classes else None,
        "precision": round(float(precision_score(y, predicted, zero_division=0)), 4),
        "recall": round(float(recall_score(y, predicted, zero_division=0)), 4),
        "f1": round(float(f1_score(y, predicted, zero_division=0)), 4),
        "lift_top_decile": round(lift_at(y, p, 0.1), 4),
        "brier": round(float(brier_score_loss(y, p)), 4) if both_classes else None,
        "threshold": round(float(threshold), 4),
        "base_rate": round(float(y.mean()), 4),
        "n": int(len(y)),
        "positives": int(y.sum()),
    }


def curves(y_true: Any, proba: Any, *, points: int = 50, bins: int = 10) -> dict[str, Any]:
    """The holdout's ROC curve (thinned to about `points` points) and reliability diagram (mean predicted
    probability against the observed rate, in equal-count bins), stored so the models page can draw them."""
    from sklearn.metrics import roc_curve

    y = np.asarray(y_true, dtype=int)
    p = np.asarray(proba, dtype=float)
    if len(np.unique(y)) < 2:
        return {}
    fpr, tpr, _ = roc_curve(y, p)
    keep = np.unique(np.r_[np.linspace(0, len(fpr) - 1, min(points, len(fpr))).astype(int), len(fpr) - 1])
    order = np.argsort(p, kind="stable")
    groups = [g for g in np.array_split(order, min(bins, len(p))) if len(g)]
    return {"roc": {"fpr": [round(float(v), 4) for v in fpr[keep]], "tpr": [round(float(v), 4) for v in tpr[keep]]},
            "calibration": {"predicted": [round(float(p[g].mean()), 4) for g in groups],
                            "observed": [round(float(y[g].mean()), 4) for g in groups]}}


def lift_at(y: np.ndarray, p: np.ndarray, fraction: float) -> float:
    """Positive rate among the top `fraction` by score, over the overall positive rate (1.0 = no better)."""
    base = y.mean()
    if base == 0:
        return 0.0
    k = max(1, int(round(len(y) * fraction)))
    top = np.argsort(-p, kind="stable")[:k]
    return float(y[top].mean() / base)


def best_f1_threshold(y_true: Any, proba: Any) -> float:
    """The threshold that maximises F1 on a validation slice (never the holdout)."""
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(proba, dtype=float)
    if y.sum() == 0:
        return 0.5
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    tp = np.cumsum(ys)
    f1 = 2 * tp / (np.arange(1, len(ys) + 1) + ys.sum())
    # only cut where the score changes, so ties fall on the same side
    cut_ok = np.r_[ps[1:] < ps[:-1], True]
    f1 = np.where(cut_ok, f1, -1)
    best = int(np.argmax(f1))
    # cut half way to the next lower score, so a new row scored just under the best one is not lost
    return float((ps[best] + ps[best + 1]) / 2) if best + 1 < len(ps) else float(ps[best])


def top_k_accuracy(true_labels: list[str], ranked: list[list[str]], k: int) -> float:
    if not true_labels:
        raise ValueError("cannot evaluate on an empty data set")
    hits = sum(1 for truth, options in zip(true_labels, ranked, strict=True) if truth in options[:k])
    return round(hits / len(true_labels), 4)
