"""Next touchpoint and conversion on touchpoint sequences (data-set format of shared/data/touchpoints).

Each row is `customer_id <TAB> observed tokens <TAB> following tokens`; a journey converts when `visit`
is among the following tokens. The file has no time column, so the holdout is a seeded random 20% of
rows (as in the reference work) and the threshold and calibration come from a validation slice of the
remaining 80%.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings

from apps.propensity.metrics import binary_metrics, top_k_accuracy
from apps.propensity.specs import ModelSpec, TrainRequest, TrainResult, register_spec
from apps.propensity.training import BinaryModel, LinearModel, fit_binary

CONVERSION_TOKEN = "visit"
LAST_STEPS = 3
HOLDOUT_FRACTION = 0.2
VALIDATION_FRACTION = 0.2
REFERENCE_LSTM = {"precision": 0.64, "recall": 0.47, "f1": 0.54}
MIN_CONTEXT = {2: 20, 1: 5}
MODEL_PARAMS = {"num_leaves": 15, "rounds": 200}  # 40,000 rows carry more trees than the journey models


def default_data_path() -> Path:
    return Path(settings.SHARED_DATA_DIR) / "touchpoints" / "train.tsv"


def read_touchpoints(path: Path) -> pd.DataFrame:
    """Rows of (customer_id, input tokens, target tokens); a malformed line is reported by number."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                raise ValueError(f"{path}:{number}: expected 3 TAB-separated fields, found {len(fields)}")
            customer, observed, following = fields
            if not observed.strip():
                raise ValueError(f"{path}:{number}: the observed touchpoints (field 2) are empty")
            rows.append((customer, observed.split(), following.split()))
    if not rows:
        raise ValueError(f"{path}: no rows")
    return pd.DataFrame(rows, columns=["customer_id", "input", "target"])


def feature_names(vocab: list[str]) -> list[str]:
    return ([f"count_{t}" for t in vocab] + ["length", "distinct", "has_visit", "repeats_last"]
            + [f"last_{k}" for k in range(1, LAST_STEPS + 1)] + ["first"])


CATEGORICAL = [f"last_{k}" for k in range(1, LAST_STEPS + 1)] + ["first"]


def sequence_features(inputs: list[list[str]], vocab: list[str]) -> np.ndarray:
    """Bag of tokens, length, distinct tokens, conversion seen, and the last steps as categories."""
    index = {t: i for i, t in enumerate(vocab)}
    v = len(vocab)
    X = np.zeros((len(inputs), v + 4 + LAST_STEPS + 1), dtype=np.float64)
    for row, tokens in enumerate(inputs):
        for token in tokens:
            if token in index:
                X[row, index[token]] += 1
        X[row, v] = len(tokens)
        X[row, v + 1] = len(set(tokens))
        X[row, v + 2] = float(CONVERSION_TOKEN in tokens)
        X[row, v + 3] = float(len(tokens) > 1 and tokens[-1] == tokens[-2])
        for k in range(1, LAST_STEPS + 1):
            X[row, v + 3 + k] = index.get(tokens[-k], np.nan) if len(tokens) >= k else np.nan
        X[row, v + 4 + LAST_STEPS] = index.get(tokens[0], np.nan)
    return X


@dataclass
class NextTouchpoint:
    """Markov ranking of the next touchpoint from the last two steps, backing off to one step, then popularity."""

    tables: dict[int, dict[tuple[str, ...], Counter]] = field(default_factory=dict)
    popular: list[str] = field(default_factory=list)

    @classmethod
    def fit(cls, inputs: list[list[str]], nexts: list[str]) -> NextTouchpoint:
        tables: dict[int, dict[tuple[str, ...], Counter]] = {1: {}, 2: {}}
        for tokens, nxt in zip(inputs, nexts, strict=True):
            for order in (1, 2):
                if len(tokens) >= order:
                    tables[order].setdefault(tuple(tokens[-order:]), Counter())[nxt] += 1
        return cls(tables=tables, popular=[t for t, _ in Counter(nexts).most_common()])

    def rank(self, tokens: list[str], k: int = 3) -> list[str]:
        ranked: list[str] = []
        for order in (2, 1):
            counts = self.tables.get(order, {}).get(tuple(tokens[-order:])) if len(tokens) >= order else None
            if counts and sum(counts.values()) >= MIN_CONTEXT[order]:
                ranked = [t for t, _ in counts.most_common(k)]
                break
        for token in self.popular:
            if len(ranked) >= k:
                break
            if token not in ranked:
                ranked.append(token)
        return ranked[:k]


@dataclass
class TouchpointModel:
    vocab: list[str]
    conversion: BinaryModel | LinearModel
    next_touchpoint: NextTouchpoint

    def conversion_proba(self, inputs: list[list[str]]) -> np.ndarray:
        return self.conversion.predict_proba(sequence_features(inputs, self.vocab))

    def score(self, tokens: list[str], k: int = 3) -> dict[str, Any]:
        """Online answer for one journey: conversion probability and label, next touchpoints, explanation."""
        X = sequence_features([tokens], self.vocab)
        proba = float(self.conversion.predict_proba(X)[0])
        return {"conversion_probability": round(proba, 4), "converts": proba >= self.conversion.threshold,
                "next_touchpoints": self.next_touchpoint.rank(tokens, k),
                "explanation": [self._readable(c.__dict__) for c in self.conversion.explain(X[0])]}

    def _readable(self, item: dict[str, Any]) -> dict[str, Any]:
        """Last/first-step features hold a token's code; show the token itself."""
        if item["feature"] in CATEGORICAL:
            return {**item, "value": self.vocab[int(item["value"])]}
        return item


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return np.array([CONVERSION_TOKEN in t for t in frame["target"]], dtype=int)


def _split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_hold = int(round(n * HOLDOUT_FRACTION))
    hold, rest = order[:n_hold], order[n_hold:]
    n_val = int(round(len(rest) * VALIDATION_FRACTION))
    return rest[n_val:], rest[:n_val], hold


def train(request: TrainRequest) -> TrainResult:
    path = request.data or default_data_path()
    request.progress(0.05, f"reading {path}")
    frame = read_touchpoints(path)
    vocab = sorted({t for seq in frame["input"] for t in seq} | {t for seq in frame["target"] for t in seq})
    names = feature_names(vocab)
    request.progress(0.15, f"building sequence features for {len(frame)} journeys")
    inputs, targets = list(frame["input"]), list(frame["target"])
    X, y = sequence_features(inputs, vocab), _labels(frame)
    tr, val, hold = _split(len(frame), request.seed)
    request.progress(0.3, f"fitting conversion model (train {len(tr)}, validation {len(val)}, holdout {len(hold)})")
    outcome = fit_binary(features=names, train=(X[tr], y[tr]), validation=(X[val], y[val]),
                         holdout=(X[hold], y[hold]), categorical=CATEGORICAL, seed=request.seed,
                         baseline_features=[n for n in names if n.startswith("count_")],
                         params={**MODEL_PARAMS, **request.params})
    request.progress(0.8, "fitting next-touchpoint ranking")
    has_next = np.array([len(t) > 0 for t in targets])
    fit_rows = tr[has_next[tr]]
    nxt = NextTouchpoint.fit([inputs[i] for i in fit_rows], [targets[i][0] for i in fit_rows])
    model = TouchpointModel(vocab=vocab, conversion=outcome.model, next_touchpoint=nxt)
    hold_rows = hold[has_next[hold]]
    truth = [targets[i][0] for i in hold_rows]
    ranked = [nxt.rank(inputs[i], 3) for i in hold_rows]
    popular = [nxt.popular[:3]] * len(hold_rows)
    metrics = {**outcome.metrics, "top1_accuracy": top_k_accuracy(truth, ranked, 1),
               "top3_accuracy": top_k_accuracy(truth, ranked, 3), "split": "seeded random 20% holdout",
               "reference_lstm": REFERENCE_LSTM}
    rule = binary_metrics(y[hold], X[hold][:, names.index("has_visit")], 0.5)
    baseline = {**outcome.baseline_metrics, "top1_accuracy": top_k_accuracy(truth, popular, 1),
                "top3_accuracy": top_k_accuracy(truth, popular, 3), "next_touchpoint_model": "popularity",
                "rule_visit_in_input": {k: rule[k] for k in ("precision", "recall", "f1")}}
    return TrainResult(model=model, metrics=metrics, baseline_metrics=baseline, features=names,
                       calibration=outcome.calibration,
                       params={"data": str(path), "holdout_fraction": HOLDOUT_FRACTION, **request.params})


def evaluate(model: TouchpointModel, path: Path) -> dict[str, Any]:
    """Conversion metrics at the model's threshold and next-touchpoint top-k accuracy on a labelled file."""
    frame = read_touchpoints(path)
    y = _labels(frame)
    proba = model.conversion_proba(list(frame["input"]))
    metrics: dict[str, Any] = binary_metrics(y, proba, model.conversion.threshold)
    with_next = frame[frame["target"].map(len) > 0]
    truth = [t[0] for t in with_next["target"]]
    ranked = [model.next_touchpoint.rank(t, 3) for t in with_next["input"]]
    metrics["top1_accuracy"] = top_k_accuracy(truth, ranked, 1) if truth else None
    metrics["top3_accuracy"] = top_k_accuracy(truth, ranked, 3) if truth else None
    return metrics


register_spec("next_touchpoint", ModelSpec(
    name="next_touchpoint",
    description="Next touchpoints (top-k) and conversion (`visit`) from the touchpoints seen so far.",
    train=train, evaluate=evaluate,
))
