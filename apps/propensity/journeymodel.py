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
from apps.propensity.specs import CustomerScore
from apps.propensity.training import BinaryModel, LinearModel


class UnknownCustomer(KeyError):
    """The customer is not in the graph."""


@dataclass
class JourneyModel:
    kind: str
    config: FeatureConfig
    classifier: BinaryModel | LinearModel
    data_end_ms: int
    threshold: float
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return self.config.names()

    def as_of(self, events: Sequence[Mapping[str, Any]]) -> int:
        latest = max((int(e["ts"]) for e in events), default=0)
        return min(int(time.time() * 1000), max(self.data_end_ms, latest + 1))

    def vector(self, events: Sequence[Mapping[str, Any]], as_of: int) -> np.ndarray:
        values = journey_features(events, as_of, self.config)
        return np.array([values[name] for name in self.features], dtype=np.float64)

    def predict_frame(self, X: pd.DataFrame) -> np.ndarray:
        return self.classifier.predict_proba(X.reindex(columns=self.features, fill_value=0.0).to_numpy())


def score_customer(model: JourneyModel, customer_id: str, version: int) -> CustomerScore:
    """Online score of one customer with the features that pushed it most."""
    events = selectors.customer_event_rows(customer_id)
    if not events and not selectors.customer_exists(customer_id):
        raise UnknownCustomer(customer_id)
    return score_events(model, events, version)


def score_events(model: JourneyModel, events: list[dict[str, Any]], version: int, top: int = 5) -> CustomerScore:
    row = model.vector(events, model.as_of(events))
    proba = float(model.classifier.predict_proba(row.reshape(1, -1))[0])
    return CustomerScore(model=model.kind, version=version, score=round(proba, 4), label=proba >= model.threshold,
                         contributions=model.classifier.explain(row, top=top))


def score_all(model: JourneyModel) -> dict[str, float]:
    """Every customer's score as of the end of the data, for writing back to the graph."""
    events = selectors.journey_events()
    if events.empty:
        return {}
    as_of = max(int(events["ts"].max()) + 1, model.data_end_ms)
    customers = sorted(events["customer_id"].astype(str).unique())
    points = pd.DataFrame({"customer_id": customers, "as_of": as_of})
    proba = model.predict_frame(feature_frame(events, points, model.config))
    return {cid: round(float(p), 4) for cid, p in zip(customers, proba, strict=True)}
