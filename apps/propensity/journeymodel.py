"""A classifier over journey features, served online and in batch the same way for every journey model.

Scores are "as of" the latest moment the data speaks for: the customer's own latest event or the end of
the data the model was trained on, whichever is later, capped at the current time. This keeps a model
trained on historical data (the demo) meaningful without pretending every customer went silent since.
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from apps.propensity import selectors
from apps.propensity.features import FeatureConfig, feature_frame, journey_features
from apps.propensity.specs import CustomerJourney, CustomerScore
from apps.propensity.training import Classifier, LinearModel


class UnknownCustomer(KeyError):
    """The customer is not in the graph."""


@dataclass
class JourneyModel:
    kind: str
    config: FeatureConfig
    classifier: Classifier
    data_end_ms: int
    threshold: float
    params: dict[str, Any] = field(default_factory=dict)
    baseline: LinearModel | None = None  # the logistic regression fitted beside it, for `evaluate`

    @property
    def features(self) -> list[str]:
        return self.config.names()

    def as_of(self, events: Sequence[Mapping[str, Any]]) -> int:
        latest = max((int(e["ts"]) for e in events), default=0)
        return min(int(time.time() * 1000), max(self.data_end_ms, latest + 1))

    def vector(self, events: Sequence[Mapping[str, Any]], as_of: int, milestones: Mapping[str, int] | None = None,
               identifiers: Sequence[tuple[str, int]] | None = None) -> np.ndarray:
        values = journey_features(events, as_of, self.config, milestones, identifiers)
        return np.array([values[name] for name in self.features], dtype=np.float64)

    def predict_frame(self, X: pd.DataFrame) -> np.ndarray:
        return self.classifier.predict_proba(X.reindex(columns=self.features, fill_value=0.0).to_numpy())

    def evaluate_frame(self, X: pd.DataFrame, labels: Any) -> dict[str, Any]:
        """Metrics of the model and of its stored baseline on the same rows (`evaluate`)."""
        from apps.propensity.metrics import binary_metrics

        matrix = X.reindex(columns=self.features, fill_value=0.0).to_numpy()
        metrics: dict[str, Any] = binary_metrics(labels, self.classifier.predict_proba(matrix), self.threshold)
        if self.baseline is not None:
            metrics["baseline"] = {"logistic_regression": binary_metrics(
                labels, self.baseline.predict_proba(matrix), self.baseline.threshold)}
        return metrics


def score_customer(model: JourneyModel, customer_id: str, version: int) -> CustomerScore:
    """Online score of one customer with the features that pushed it most."""
    journey = selectors.read_customer_journey(customer_id)
    if journey is None:
        raise UnknownCustomer(customer_id)
    return score_journey(model, journey, version)


def score_journey(model: JourneyModel, journey: CustomerJourney, version: int, top: int = 5) -> CustomerScore:
    row = model.vector(journey.events, model.as_of(journey.events), journey.milestones, journey.identifiers)
    proba = float(model.classifier.predict_proba(row.reshape(1, -1))[0])
    return CustomerScore(model=model.kind, version=version, score=round(proba, 4), label=proba >= model.threshold,
                         contributions=model.classifier.explain(row, top=top))


def graph_facts_for(events: pd.DataFrame) -> tuple[dict[str, dict[str, int]], dict[str, list[tuple[str, int]]]]:
    """Milestones and identifiers of the customers in `events` (read from the graph)."""
    return selectors.milestones_and_identifiers(selectors.customer_facts())


def learn_config(events: pd.DataFrame, identifiers: dict[str, list[tuple[str, int]]],
                 milestones: dict[str, dict[str, int]], exclude_types: Sequence[str] = ()) -> FeatureConfig:
    """The feature vocabulary of the training events plus every milestone and identifier kind seen."""
    return FeatureConfig.learn(events, exclude_types=exclude_types,
                               milestones=sorted({m for ms in milestones.values() for m in ms}),
                               identifier_kinds=sorted({k for ids in identifiers.values() for k, _ in ids}))


def score_all(model: JourneyModel) -> dict[str, float]:
    """Every customer's score as of the end of the data, for writing back to the graph."""
    events = selectors.journey_events()
    if events.empty:
        return {}
    as_of = max(int(events["ts"].max()) + 1, model.data_end_ms)
    customers = sorted(events["customer_id"].astype(str).unique())
    points = pd.DataFrame({"customer_id": customers, "as_of": as_of})
    milestones, identifiers = graph_facts_for(events)
    proba = model.predict_frame(feature_frame(events, points, model.config, milestones, identifiers))
    return {cid: round(float(p), 4) for cid, p in zip(customers, proba, strict=True)}
