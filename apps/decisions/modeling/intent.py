"""Next-intent model: a smoothed transition (Markov) model over a caller's recent sub-intents.

Why this shape: a caller's calls walk forward through an intent's fixed sequence of sub-intents
(new → statement → payment …), so the last few sub-intents and the time since the last call say most
of what can be said about the next one. Each longer context is smoothed towards the next shorter one
(hierarchical Dirichlet backoff), so rare contexts fall back gracefully and an unknown caller gets
the first-call popularity, whose top confidence is low and routes to the menu. The top probability
is then calibrated (isotonic, on the latest part of the training window) so 0.8 means 80 % right.
"""
from __future__ import annotations

import bisect
import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

NO_HISTORY = "new"
DAY_MS = 86_400_000
DEFAULT_GAP_EDGES_MS = (DAY_MS, 3 * DAY_MS, 7 * DAY_MS, 14 * DAY_MS)
CALL_COLUMNS = ["customer_id", "ts", "intent"]
HISTORY_DEPTH = 5


def top_level(intent: str) -> str:
    """`CC_LC` → `CC`: the product the caller is calling about."""
    return intent.split("_", 1)[0]


def read_interactions(path: str | Path) -> pd.DataFrame:
    """The intents data set (`USER_ID,ITEM_ID,TIMESTAMP[,EVENT_TYPE]`, epoch seconds) as calls."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"USER_ID", "ITEM_ID", "TIMESTAMP"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}; expected USER_ID,ITEM_ID,TIMESTAMP")
    try:
        ts = frame["TIMESTAMP"].astype("int64") * 1000
    except ValueError as exc:
        raise ValueError(f"{path}: TIMESTAMP must be integer epoch seconds ({exc})") from exc
    calls = pd.DataFrame({"customer_id": frame["USER_ID"], "ts": ts, "intent": frame["ITEM_ID"]})
    return sort_calls(calls)


def calls_from_events(events: pd.DataFrame) -> pd.DataFrame:
    """Calls with a known intent out of the canonical events frame (any channel). A customer's calls of
    equal time keep the order of the `next` chain (arrival number, then event id), the order in which
    the intent decision reads them, so a model learns the sequences it is then asked about."""
    if events.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "ts" else object) for c in CALL_COLUMNS})
    known = events[events["intent"].notna() & (events["intent"].astype(str) != "")]
    chained = known[[*CALL_COLUMNS, "seq", "event_id"]].astype(
        {"customer_id": str, "intent": str, "ts": "int64", "seq": "int64", "event_id": str})
    return chained.sort_values(["customer_id", "ts", "seq", "event_id"], kind="mergesort")[CALL_COLUMNS] \
        .reset_index(drop=True)


def sort_calls(calls: pd.DataFrame) -> pd.DataFrame:
    return calls.sort_values(["customer_id", "ts", "intent"], kind="mergesort").reset_index(drop=True)


@dataclass(frozen=True)
class Example:
    """One call to predict: what the caller did before it, how long ago, and what they called about."""

    history: tuple[str, ...]
    gap_ms: int | None
    target: str
    ts: int


def examples(calls: pd.DataFrame) -> list[Example]:
    """Every call with its preceding history (calls must be sorted by customer and time)."""
    out: list[Example] = []
    customers = calls["customer_id"].astype(str).tolist()
    items = calls["intent"].astype(str).tolist()
    stamps = calls["ts"].astype("int64").tolist()
    start = 0
    for i, (customer, item, ts) in enumerate(zip(customers, items, stamps, strict=True)):
        if i and customers[i - 1] != customer:
            start = i
        gap = ts - stamps[i - 1] if i > start else None
        out.append(Example(tuple(items[max(start, i - HISTORY_DEPTH):i]), gap, item, ts))
    return out


RANKED_CONTEXTS = 20_000  # remembered rankings per loaded model (a few MB at most)


@dataclass
class IntentModel:
    """Counts per context plus an isotonic map for the top probability; small, picklable, fast."""

    order: int = 3
    strength: float = 2.0
    gap_edges_ms: tuple[int, ...] = DEFAULT_GAP_EDGES_MS
    vocabulary: list[str] = field(default_factory=list)
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    calibration_x: list[float] = field(default_factory=list)
    calibration_y: list[float] = field(default_factory=list)
    baseline: PopularityModel | None = None  # fitted on the same training calls, for `evaluate`

    def fit(self, train: Sequence[Example]) -> IntentModel:
        self.__dict__.pop("_ranked", None)  # rankings remembered before a refit are stale
        self.vocabulary = sorted({e.target for e in train} | {h for e in train for h in e.history})
        index = {item: i for i, item in enumerate(self.vocabulary)}
        self.counts = {}
        for example in train:
            for key in self._contexts(example.history, example.gap_ms):
                row = self.counts.setdefault(key, np.zeros(len(self.vocabulary)))
                row[index[example.target]] += 1
        return self

    def _bucket(self, history: Sequence[str], gap_ms: int | None) -> str:
        if not history or gap_ms is None:
            return NO_HISTORY
        return str(bisect.bisect_right(self.gap_edges_ms, max(gap_ms, 0)))

    def _contexts(self, history: Sequence[str], gap_ms: int | None) -> list[str]:
        """From the most general context to the most specific: the last k sub-intents, then the same
        with the time since the last call (which tells a continuing episode from a new one)."""
        if not history:
            return ["*", f"{NO_HISTORY}|"]
        bucket = self._bucket(history, gap_ms)
        grams = [">".join(history[-k:]) for k in range(1, min(self.order, len(history)) + 1)]
        return ["*", *(f"|{g}" for g in grams), *(f"{bucket}|{g}" for g in grams)]

    def distribution(self, history: Sequence[str], gap_ms: int | None) -> np.ndarray:
        """Raw probabilities over the vocabulary, each context smoothed towards the shorter one."""
        size = len(self.vocabulary)
        probs = np.full(size, 1.0 / size) if size else np.zeros(0)
        for key in self._contexts(history, gap_ms):
            row = self.counts.get(key)
            if row is None:
                continue
            probs = (row + self.strength * probs) / (row.sum() + self.strength)
        return probs

    def calibrated(self, raw: float) -> float:
        if not self.calibration_x:
            return float(raw)
        return float(np.interp(raw, self.calibration_x, self.calibration_y))

    def fit_calibration(self, held_out: Sequence[Example]) -> IntentModel:
        """Isotonic map raw top-1 probability → observed accuracy, fitted on calls the counts never saw."""
        from sklearn.isotonic import IsotonicRegression

        if len(held_out) < 20:
            return self
        self.__dict__.pop("_ranked", None)
        raw, hit = [], []
        for example in held_out:
            probs = self.distribution(example.history, example.gap_ms)
            best = int(np.argmax(probs))
            raw.append(float(probs[best]))
            hit.append(float(self.vocabulary[best] == example.target))
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, hit)
        self.calibration_x = [float(x) for x in iso.X_thresholds_]
        self.calibration_y = [float(y) for y in iso.y_thresholds_]
        return self

    def rank(self, history: Sequence[str], gap_ms: int | None, k: int = 5) -> list[tuple[str, float]]:
        """Top-k intents with calibrated confidence, best first (ties broken by name for stable output).

        The answer depends only on the caller's contexts, and callers share few of them: each is
        worked out once per loaded model (a fitted model is never changed) and remembered, so a
        waiting caller pays for a dictionary lookup instead of some thirty array operations."""
        key = (k, *self._contexts(history, gap_ms))
        remembered = self.__dict__.setdefault("_ranked", {})
        ranked = remembered.get(key)
        if ranked is None:
            if len(remembered) >= RANKED_CONTEXTS:
                remembered.clear()
            ranked = remembered[key] = self._rank(history, gap_ms, k)
        return list(ranked)

    def __getstate__(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if name != "_ranked"}

    def _rank(self, history: Sequence[str], gap_ms: int | None, k: int) -> list[tuple[str, float]]:
        probs = self.distribution(history, gap_ms).tolist()  # plain floats: indexing numpy per item is slow
        best = heapq.nsmallest(k, zip((-p for p in probs), self.vocabulary, strict=True))
        confidences = self.calibrated_all([-negated for negated, _ in best])
        return [(intent, round(c, 4)) for (_, intent), c in zip(best, confidences, strict=True)]

    def calibrated_all(self, raws: list[float]) -> list[float]:
        """`calibrated` of each raw probability in one interpolation (the same numbers: numpy maps each
        element as it maps a single value), not one per intent, each converting the calibration lists."""
        if not self.calibration_x or not raws:
            return [float(raw) for raw in raws]
        return [float(c) for c in np.interp(raws, self.calibration_x, self.calibration_y)]


@dataclass
class PopularityModel:
    """The baseline: always the most frequent intents of the training window."""

    ranking: list[str] = field(default_factory=list)
    share: float = 0.0

    def fit(self, train: Sequence[Example]) -> PopularityModel:
        counts = pd.Series([e.target for e in train]).value_counts()
        self.ranking = sorted(counts.index, key=lambda i: (-counts[i], i))
        self.share = float(counts.iloc[0] / counts.sum()) if len(counts) else 0.0
        return self

    def rank(self, history: Sequence[str], gap_ms: int | None, k: int = 5) -> list[tuple[str, float]]:
        return [(item, round(self.share if n == 0 else 0.0, 4)) for n, item in enumerate(self.ranking[:k])]


def time_split(items: Sequence[Example], holdout: float = 0.15) -> tuple[list[Example], list[Example]]:
    """Earlier calls train, the last `holdout` share of calls by time test: no look into the future."""
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must be between 0 and 1, got {holdout}")
    ordered = sorted(items, key=lambda e: e.ts)
    cut = int(round(len(ordered) * (1.0 - holdout)))
    return ordered[:cut], ordered[cut:]


def train_intent_model(calls: pd.DataFrame, *, holdout: float = 0.15, order: int = 3,
                       strength: float = 2.0) -> tuple[IntentModel, PopularityModel, list[Example]]:
    """Fit counts on the training window, calibrate on its latest 15 %, refit counts on all of it."""
    train, test = time_split(examples(calls), holdout)
    fit_part, calibration_part = time_split(train, 0.15)
    model = IntentModel(order=order, strength=strength).fit(fit_part).fit_calibration(calibration_part)
    calibration = (model.calibration_x, model.calibration_y)
    model.fit(train)
    model.calibration_x, model.calibration_y = calibration
    return model, PopularityModel().fit(train), test


def evaluate_intent(model: IntentModel | PopularityModel, test: Sequence[Example], *, high: float = 0.8,
                    low: float = 0.6) -> dict[str, object]:
    """Everything the model page shows for one model on one holdout, in plain JSON types."""
    from apps.decisions.modeling.metrics import band_metrics, expected_calibration_error, ranking_metrics

    ranked = [model.rank(e.history, e.gap_ms, k=5) for e in test]
    names = [[item for item, _ in r] for r in ranked]
    actual = [e.target for e in test]
    confidence = [r[0][1] if r else 0.0 for r in ranked]
    correct = [bool(n) and n[0] == a for n, a in zip(names, actual, strict=True)]
    top_level_hit = [bool(n) and top_level(n[0]) == top_level(a) for n, a in zip(names, actual, strict=True)]
    return {
        **ranking_metrics(names, actual),
        "top1_intent": round(float(np.mean(top_level_hit)), 4) if test else 0.0,
        "ece": expected_calibration_error(confidence, correct),
        "bands": band_metrics(confidence, correct, high=high, low=low),
    }
