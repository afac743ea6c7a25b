"""next_event: for any event log, the type of a journey's next event, "the journey ends" included.

Trained on the events in the graph, or on any file the ingest reads (`--data`: CSV, JSON, NDJSON with
customer_id, event_type, channel, timestamp). The split keeps whole journeys together: `case` (the
default) holds out the last journeys in file order, `time` the journeys that start last. Every prefix
of every journey is an example (the empty prefix is not: it says nothing about the journey). Gradient
boosting (LightGBM, multiclass, stopped early on the last tenth of the training journeys) reads the
prefix features of `next_event_features`; its holdout accuracy stands beside two baselines fitted on
the same training journeys: the most frequent next event after the last event, and after the last two.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from apps.propensity import selectors
from apps.propensity.next_event_features import END, Journey, PrefixEncoder, journeys_from_frame, targets
from apps.propensity.specs import CustomerJourney, ModelSpec, TrainRequest, TrainResult, register_spec

DEFAULT_TRAIN_FRACTION = 0.8
VALIDATION_FRACTION = 0.1
MIN_CLASS_COUNT = 2
PARAMS: dict[str, Any] = {"objective": "multiclass", "learning_rate": 0.1, "num_leaves": 15, "min_data_in_leaf": 20,
                          "feature_fraction": 0.8, "lambda_l2": 1.0, "verbose": -1, "num_threads": 1,
                          "max_cat_to_onehot": 8}
MAX_ROUNDS = 300
EARLY_STOP = 15


@dataclass
class TransitionBaseline:
    """The most frequent next event after the last `order` events (backing off to fewer, then overall)."""

    order: int
    tables: dict[tuple[str, ...], Counter] = field(default_factory=dict)
    overall: str = END

    def fit(self, journeys: Sequence[Journey]) -> TransitionBaseline:
        overall: Counter = Counter()
        for journey in journeys:
            for k, target in enumerate(_journey_targets(journey)):
                overall[target] += 1
                for n in range(1, self.order + 1):
                    if k + 1 >= n:
                        self.tables.setdefault(tuple(journey.types[k + 1 - n:k + 1]), Counter())[target] += 1
        self.overall = overall.most_common(1)[0][0] if overall else END
        return self

    def predict(self, prefix: Sequence[str]) -> str:
        for n in range(min(self.order, len(prefix)), 0, -1):
            counts = self.tables.get(tuple(prefix[-n:]))
            if counts:
                return str(max(sorted(counts), key=lambda t: counts[t]))
        return self.overall

    def predictions(self, journeys: Sequence[Journey]) -> list[str]:
        return [self.predict(j.types[:k + 1]) for j in journeys for k in range(len(j.types))]


def _journey_targets(journey: Journey) -> list[str]:
    return targets([journey])


@dataclass
class NextEventModel:
    """The boosted ranking of next events, its encoder, and the two baselines it was judged against."""

    encoder: PrefixEncoder
    booster: lgb.Booster
    classes: list[str]
    rounds: int
    baselines: dict[str, TransitionBaseline]

    def proba(self, journeys: Sequence[Journey], *, last_only: bool = False) -> np.ndarray:
        X = self.encoder.transform(journeys, last_only=last_only)
        if not len(X):
            return np.zeros((0, len(self.classes)))
        raw = self.booster.predict(X, num_iteration=self.rounds, num_threads=1)
        return np.asarray(raw).reshape(len(X), len(self.classes))

    def predictions(self, journeys: Sequence[Journey]) -> list[str]:
        proba = self.proba(journeys)
        return [self.classes[i] for i in np.argmax(proba, axis=1)] if len(proba) else []

    def top(self, journey: Journey, k: int = 3) -> list[tuple[str, float]]:
        """The `k` likeliest next events after the whole journey so far, with probabilities."""
        proba = self.proba([journey], last_only=True)[0]
        order = np.argsort(-proba, kind="stable")[:k]
        return [(self.classes[i], round(float(proba[i]), 4)) for i in order]


def accuracy(predicted: Sequence[str], actual: Sequence[str]) -> dict[str, Any]:
    """Accuracy over every prefix (the end of a journey a target like any other) and over the prefixes
    whose next event exists."""
    hits = np.array([p == a for p, a in zip(predicted, actual, strict=True)], dtype=bool)
    has_next = np.array([a != END for a in actual], dtype=bool)
    return {"accuracy": round(float(hits.mean()), 4) if len(hits) else None,
            "accuracy_without_end": round(float(hits[has_next].mean()), 4) if has_next.any() else None,
            "prefixes": int(len(hits)), "prefixes_without_end": int(has_next.sum())}


def report(model: NextEventModel, journeys: Sequence[Journey]) -> dict[str, Any]:
    """The model's accuracy and its baselines' on the same prefixes (`baseline` holds the latter)."""
    actual = targets(journeys)
    proba = model.proba(journeys)
    ranked = np.argsort(-proba, axis=1, kind="stable")[:, :3] if len(proba) else np.zeros((0, 3), dtype=int)
    top3 = [actual[i] in {model.classes[c] for c in row} for i, row in enumerate(ranked)]
    predicted = [model.classes[row[0]] for row in ranked]
    return {**accuracy(predicted, actual), "top3_accuracy": round(float(np.mean(top3)), 4) if top3 else None,
            "journeys": len(journeys),
            "baseline": {name: accuracy(b.predictions(journeys), actual) for name, b in model.baselines.items()}}


def fit(train: Sequence[Journey], *, seed: int = 0, params: dict[str, Any] | None = None) -> NextEventModel:
    """Boosting on the first 90% of the training journeys, stopped on the rest; baselines on all of them."""
    n_val = max(1, int(round(len(train) * VALIDATION_FRACTION))) if len(train) > 1 else 0
    fit_part, validation = list(train[:len(train) - n_val]), list(train[len(train) - n_val:])
    encoder = PrefixEncoder.learn(fit_part)
    counts = Counter(targets(fit_part))
    classes = sorted(t for t, n in counts.items() if n >= MIN_CLASS_COUNT) or [END]
    code = {t: i for i, t in enumerate(classes)}
    X, y = encoder.transform(fit_part), targets(fit_part)
    keep = np.array([t in code for t in y], dtype=bool)
    cat = [encoder.names().index(c) for c in encoder.categorical()]
    options = {**PARAMS, "num_class": max(2, len(classes)), "seed": seed, **(params or {})}
    data = lgb.Dataset(X[keep], label=[code[t] for t in np.array(y)[keep]], categorical_feature=cat,
                       free_raw_data=False)
    valid: list[lgb.Dataset] = []
    stop: list[Callable[..., Any]] = []
    if validation:
        Xv, yv = encoder.transform(validation), targets(validation)
        known = np.array([t in code for t in yv], dtype=bool)
        if known.any():
            valid = [lgb.Dataset(Xv[known], label=[code[t] for t in np.array(yv)[known]], reference=data)]
            stop = [lgb.early_stopping(EARLY_STOP, verbose=False)]
    booster = lgb.train(options, data, num_boost_round=MAX_ROUNDS if valid else 100, valid_sets=valid, callbacks=stop)
    rounds = booster.best_iteration if valid and booster.best_iteration > 0 else booster.current_iteration()
    baselines = {"last_event": TransitionBaseline(order=1).fit(train),
                 "last_two_events": TransitionBaseline(order=2).fit(train)}
    return NextEventModel(encoder=encoder, booster=booster, classes=classes, rounds=int(rounds), baselines=baselines)


def split(journeys: Sequence[Journey], fraction: float) -> tuple[list[Journey], list[Journey]]:
    """Whole journeys: the first `fraction` train, the rest is the holdout."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"--train-fraction must lie strictly between 0 and 1, got {fraction}")
    cut = int(round(len(journeys) * fraction))
    if cut < 2 or cut >= len(journeys):
        raise ValueError(f"{len(journeys)} journeys cannot be split {fraction:g} / {1 - fraction:g} into a training "
                         "set of at least 2 journeys and a non-empty holdout; load more journeys")
    return list(journeys[:cut]), list(journeys[cut:])


def read_journeys(path: Path | None, *, order: str, request: TrainRequest | None = None) -> tuple[list[Journey], str]:
    """Journeys from a file (ingest formats), or from the graph when no file is given."""
    if path is not None:
        from apps.propensity.eventfile import read_events_file

        return journeys_from_frame(read_events_file(Path(path)), order=order), str(path)
    events = selectors.journey_events(since=request.since if request else None,
                                      until=request.until if request else None)
    if events.empty:
        raise ValueError("no events in the graph; load data first (manage.py demo / ingest) or pass --data")
    return journeys_from_frame(events, order=order), "graph"


def train(request: TrainRequest) -> TrainResult:
    order = str(request.params.get("split", "case"))
    fraction = float(request.params.get("train_fraction", DEFAULT_TRAIN_FRACTION))
    request.progress(0.05, f"reading journeys from {request.data or 'the graph'}")
    journeys, source = read_journeys(request.data, order=order, request=request)
    train_part, holdout = split(journeys, fraction)
    request.progress(0.2, f"fitting on {len(train_part)} journeys ({sum(len(j.types) for j in train_part)} prefixes)")
    params = {k: v for k, v in request.params.items() if k not in ("split", "train_fraction")}
    model = fit(train_part, seed=request.seed, params=params)
    request.progress(0.8, f"scoring {len(holdout)} held-out journeys")
    metrics = report(model, holdout)
    baseline = metrics.pop("baseline")
    stamps = [t for j in journeys for t in (j.ts[0], j.ts[-1])]
    return TrainResult(
        model=model, metrics={**metrics, "split": order, "train_fraction": fraction, "rounds": model.rounds,
                              "classes": len(model.classes), "train_journeys": len(train_part)},
        baseline_metrics=baseline, features=model.encoder.names(),
        train_window=(selectors.from_ms(min(stamps)), selectors.from_ms(max(stamps))),
        params={"data": source, "split": order, "train_fraction": fraction, **params})


def evaluate(model: NextEventModel, path: Path) -> dict[str, Any]:
    """Every prefix of every journey in the file (the end of each journey one of the targets)."""
    journeys, _ = read_journeys(path, order="case")
    return report(model, journeys)


def next_events(model: NextEventModel, journey: CustomerJourney, k: int = 3) -> list[tuple[str, float]]:
    """The top `k` next events of one customer's journey so far (online)."""
    events = journey.events
    if not events:
        return []
    as_journey = Journey(key=journey.customer_id, types=[str(e["type"]) for e in events],
                         ts=[int(e["ts"]) for e in events], channels=[str(e.get("channel") or "") for e in events])
    return model.top(as_journey, k)


register_spec("next_event", ModelSpec(
    name="next_event", train=train, evaluate=evaluate, gate_metric="accuracy",
    description="A journey's next event type, or its end, from the events so far (any event log); "
                "data: the graph, or --data FILE; --split case|time, --train-fraction F"))
