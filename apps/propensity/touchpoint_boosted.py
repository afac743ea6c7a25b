"""The gradient-boosting candidate for next_touchpoint, and the Markov ranking kept as a reference.

Conversion is a calibrated LightGBM classifier over the sequence features of `touchpoint_features`
(fitted by `training.fit_binary`, which also fits the logistic-regression baseline and may serve it
when it ranks the validation slice clearly better). The next touchpoint is a LightGBM multiclass
model over the same features, stopped early on the validation slice: a Markov table keyed by the
last step or two cannot use the rest of the journey, and backs off to counts that mix journeys of
one step (where the data repeats the step as the "next" one) with longer ones (where it never does).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np

from apps.propensity.touchpoint_features import LEGACY_CATEGORICAL, SequenceEncoder, legacy_features
from apps.propensity.training import Classifier, LinearModel

MIN_CONTEXT = {2: 20, 1: 5}
NEXT_PARAMS: dict[str, Any] = {
    "objective": "multiclass", "learning_rate": 0.1, "num_leaves": 7, "min_data_in_leaf": 50,
    "feature_fraction": 0.7, "lambda_l2": 10.0, "verbose": -1, "num_threads": 1,
}
NEXT_MAX_ROUNDS = 500
NEXT_EARLY_STOP = 20


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
class NextBooster:
    """LightGBM multiclass over the sequence features; `classes` are the touchpoints it can name."""

    booster: lgb.Booster
    classes: list[str]
    rounds: int

    def ranked(self, X: np.ndarray, k: int) -> list[list[str]]:
        proba = np.asarray(self.booster.predict(X, num_iteration=self.rounds, num_threads=1)).reshape(len(X), -1)
        order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        return [[self.classes[i] for i in row] for row in order]


def fit_next_booster(X_tr: np.ndarray, nexts_tr: list[str], X_val: np.ndarray, nexts_val: list[str],
                     *, seed: int, params: dict[str, Any] | None = None) -> NextBooster:
    """Multiclass boosting stopped early on the validation slice (rows whose next step it never saw in
    training are left out of the stopping score, since no class can name them)."""
    classes = sorted(set(nexts_tr))
    code = {t: i for i, t in enumerate(classes)}
    y_tr = np.array([code[t] for t in nexts_tr])
    known = np.array([t in code for t in nexts_val], dtype=bool)
    y_val = np.array([code[t] for t, ok in zip(nexts_val, known, strict=True) if ok])
    options = {**NEXT_PARAMS, "num_class": max(2, len(classes)), "seed": seed, **(params or {})}
    train_set = lgb.Dataset(X_tr, label=y_tr, free_raw_data=False)
    valid = [lgb.Dataset(X_val[known], label=y_val, reference=train_set)] if known.any() else []
    stop: list[Callable[..., Any]] = [lgb.early_stopping(NEXT_EARLY_STOP, verbose=False)] if valid else []
    booster = lgb.train(options, train_set, num_boost_round=NEXT_MAX_ROUNDS if valid else 100, valid_sets=valid,
                        callbacks=stop)
    rounds = booster.best_iteration if valid and booster.best_iteration > 0 else booster.current_iteration()
    return NextBooster(booster=booster, classes=classes, rounds=int(rounds))


@dataclass
class TouchpointModel:
    """The gradient-boosting candidate: calibrated conversion classifier and next-touchpoint ranking.

    Versions trained before the sequence encoder were pickled as this class without `encoder` and with
    a Markov `next_touchpoint`; both are still understood, so those versions load and evaluate.
    """

    vocab: list[str]
    conversion: Classifier
    next_touchpoint: NextTouchpoint | NextBooster
    encoder: SequenceEncoder | None = None
    baseline: LinearModel | None = None  # conversion baseline fitted beside it, for `evaluate`
    markov: NextTouchpoint | None = None  # next-touchpoint reference fitted on the same rows

    @property
    def threshold(self) -> float:
        return float(self.conversion.threshold)

    def feature_names(self) -> list[str]:
        return self.encoder.names() if self.encoder is not None else []

    def features(self, inputs: list[list[str]]) -> np.ndarray:
        return self.encoder.transform(inputs) if self.encoder is not None else legacy_features(inputs, self.vocab)

    def conversion_proba(self, inputs: list[list[str]]) -> np.ndarray:
        return np.asarray(self.conversion.predict_proba(self.features(inputs)), dtype=float)

    def next_ranked(self, inputs: list[list[str]], k: int = 3) -> list[list[str]]:
        if isinstance(self.next_touchpoint, NextTouchpoint):
            return [self.next_touchpoint.rank(tokens, k) for tokens in inputs]
        return self.next_touchpoint.ranked(self.features(inputs), k)

    def score(self, tokens: list[str], k: int = 3) -> dict[str, Any]:
        """Online answer for one journey: conversion probability and label, next touchpoints, explanation."""
        X = self.features([tokens])
        proba = float(self.conversion.predict_proba(X)[0])
        return {"conversion_probability": round(proba, 4), "converts": proba >= self.threshold,
                "next_touchpoints": self.next_ranked([tokens], k)[0],
                "explanation": [self._readable(c.__dict__) for c in self.conversion.explain(X[0])]}

    def _readable(self, item: dict[str, Any]) -> dict[str, Any]:
        """Older versions held a token's code in their last/first-step columns; show the token itself."""
        if self.encoder is None and item["feature"] in LEGACY_CATEGORICAL:
            return {**item, "value": self.vocab[int(item["value"])]}
        return item
