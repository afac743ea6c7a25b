"""Ranking, calibration and routing-band metrics shared by the intent and risk evaluations.

Pure numpy over plain arrays, so the same numbers come out of training, `evaluate` and the replay.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

BANDS = ("confirm", "suggest", "menu")
Numbers = Sequence[float] | Sequence[int] | np.ndarray


def band_for(confidence: float | None, *, high: float, low: float) -> str:
    """The contact-flow action for a confidence: a missing prediction always means the full menu."""
    if confidence is None or confidence < low:
        return "menu"
    return "confirm" if confidence >= high else "suggest"


def ranking_metrics(ranked: Sequence[Sequence[str]], actual: Sequence[str]) -> dict[str, float]:
    """Top-1/top-3 accuracy, MRR and NDCG@5 for one relevant item per case."""
    if not actual:
        return {"n": 0, "top1": 0.0, "top3": 0.0, "mrr": 0.0, "ndcg5": 0.0}
    ranks = np.array([_rank(r, a) for r, a in zip(ranked, actual, strict=True)], dtype=float)
    found = ranks > 0
    reciprocal = np.where(found, 1.0 / np.where(found, ranks, 1.0), 0.0)
    ndcg = np.where(found & (ranks <= 5), 1.0 / np.log2(np.where(found, ranks, 1.0) + 1.0), 0.0)
    return {
        "n": int(len(ranks)),
        "top1": _round(np.mean(found & (ranks == 1))),
        "top3": _round(np.mean(found & (ranks <= 3))),
        "mrr": _round(reciprocal.mean()),
        "ndcg5": _round(ndcg.mean()),
    }


def _rank(ranked: Sequence[str], actual: str) -> int:
    try:
        return list(ranked).index(actual) + 1
    except ValueError:
        return 0


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], *, bins: int = 10) -> float:
    """ECE over equal-width bins: how far stated confidence is from observed accuracy, weighted by calls."""
    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return 0.0
    index = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.mean() * abs(conf[mask].mean() - hit[mask].mean())
    return _round(total)


def band_metrics(confidence: Sequence[float | None], correct: Sequence[bool], *, high: float,
                 low: float) -> dict[str, dict[str, float]]:
    """Per action band: the share of calls routed there and how often the top prediction was right."""
    bands = [band_for(c, high=high, low=low) for c in confidence]
    hits = np.asarray(correct, dtype=bool)
    out: dict[str, dict[str, float]] = {}
    for band in BANDS:
        mask = np.array([b == band for b in bands], dtype=bool)
        count = int(mask.sum())
        out[band] = {"share": _round(count / len(bands)) if bands else 0.0,
                     "precision": _round(hits[mask].mean()) if count else 0.0, "calls": count}
    return out


def binary_metrics_at(scores: Numbers, labels: Numbers, threshold: float) -> dict[str, float]:
    """TPR, FPR and precision when every score above the threshold is flagged."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    flagged = s > threshold
    tp = int((flagged & (y == 1)).sum())
    fp = int((flagged & (y == 0)).sum())
    positives, negatives = int((y == 1).sum()), int((y == 0).sum())
    return {
        "threshold": threshold,
        "flagged_share": _round(flagged.mean()) if s.size else 0.0,
        "tpr": _round(tp / positives) if positives else 0.0,
        "fpr": _round(fp / negatives) if negatives else 0.0,
        "precision": _round(tp / (tp + fp)) if tp + fp else 0.0,
    }


def roc_auc(scores: Numbers, labels: Numbers) -> float:
    """AUC by the rank-sum formula (ties count half), so no label-free edge case raises."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    positives, negatives = int((y == 1).sum()), int((y == 0).sum())
    if positives == 0 or negatives == 0:
        return 0.5
    from scipy.stats import rankdata

    ranks = rankdata(s)
    return _round((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _round(value: Any) -> float:
    return round(float(value), 4)
