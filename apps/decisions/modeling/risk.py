"""Call-risk model: the probability that a call is fraudulent, from facts known when the call starts.

The labelled data (fraud_calls) has two columns that give the answer away: `customer_class` maps one
to one onto the label, and `call_duration` is only known once the call has ended (and nearly
separates the classes). A model using them scores AUC 1.0 and is useless on a live call, so the
active model uses call-time features only; the leaky variant is trained beside it to show the gap.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CALL_TIME = "call_time"
WITH_LEAK = "with_leak"
LEAKY_FEATURES = ("customer_class", "call_duration")
CALL_TIME_FEATURES = ("contact_type", "hour", "weekday", "phone_length", "phone_prefix", "email_tld",
                      "email_domain", "email_local_has_digit")
SPLIT_SEED = 20261125
REQUIRED_COLUMNS = {"email_address", "phone_number", "contact_type", "event_timestamp", "fraud_label"}


def read_fraud_calls(path: str | Path) -> pd.DataFrame:
    """The fraud_calls CSV as calls: every column read as text first (one last name is `TRUE`)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = REQUIRED_COLUMNS - set(frame.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)} (fraud_calls format expected)")
    try:
        stamps = pd.to_datetime(frame["event_timestamp"], format="%d/%m/%y %H:%M", utc=True)
    except ValueError as exc:
        raise ValueError(f"{path}: event_timestamp must be day-first D/M/YY H:MM ({exc})") from exc
    bad = ~frame["fraud_label"].isin(["0", "1"])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise ValueError(f"{path}: line {row}: fraud_label must be 0 or 1, got {frame['fraud_label'][bad].iloc[0]!r}")
    return pd.DataFrame({
        "phone": "+" + frame["phone_number"].str.lstrip("+"),
        "email": frame["email_address"].str.lower(),
        "ip": frame.get("ip_address", pd.Series([""] * len(frame))),
        "contact_type": frame["contact_type"].str.upper(),
        "ts": stamps.dt.as_unit("ms").astype("int64"),
        "billing_name": frame.get("billing_name", pd.Series([""] * len(frame))),
        "customer_class": frame.get("customer_class", pd.Series([""] * len(frame))),
        "call_duration": frame.get("call_duration", pd.Series([""] * len(frame))),
        "label": frame["fraud_label"].astype(int),
    })


def call_features(call: Mapping[str, Any], *, variant: str = CALL_TIME) -> dict[str, str]:
    """Categorical features of one call; the same function serves training and a live decision."""
    phone = str(call.get("phone") or "").lstrip("+")
    email = str(call.get("email") or "").lower()
    local, _, domain = email.partition("@")
    when = datetime.fromtimestamp(int(call.get("ts") or 0) / 1000, tz=UTC)
    features = {
        "contact_type": str(call.get("contact_type") or "").upper(),
        "hour": str(when.hour),
        "weekday": str(when.weekday()),
        "phone_length": str(len(phone)),
        "phone_prefix": phone[:1],
        "email_tld": domain.rsplit(".", 1)[-1] if domain else "",
        "email_domain": domain,
        "email_local_has_digit": str(any(c.isdigit() for c in local)),
    }
    if variant == WITH_LEAK:
        features.update({name: str(call.get(name) or "") for name in LEAKY_FEATURES})
    return features


@dataclass
class RiskModel:
    """A logistic regression over one-hot call features; `variant` says which feature set it saw."""

    variant: str = CALL_TIME
    pipeline: Any = None
    features: list[str] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)
    intercept: float = 0.0

    def fit(self, calls: pd.DataFrame) -> RiskModel:
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        rows = [call_features(c, variant=self.variant) for c in calls.to_dict("records")]
        self.pipeline = make_pipeline(DictVectorizer(), LogisticRegression(max_iter=1000, C=0.3))
        self.pipeline.fit(rows, calls["label"].to_numpy())
        self.features = list(CALL_TIME_FEATURES) + (list(LEAKY_FEATURES) if self.variant == WITH_LEAK else [])
        vectorizer, regression = self.pipeline.steps[0][1], self.pipeline.steps[-1][1]
        self.weights = {name: float(w) for name, w in zip(vectorizer.get_feature_names_out(), regression.coef_[0],
                                                          strict=True)}
        self.intercept = float(regression.intercept_[0])
        return self

    def probability(self, call: Mapping[str, Any]) -> float:
        """One live call without sklearn's per-call overhead: the same logistic function, by hand
        (one-hot features are named `key=value`, as DictVectorizer names them)."""
        z = self.intercept + sum(self.weights.get(f"{k}={v}", 0.0)
                                 for k, v in call_features(call, variant=self.variant).items())
        return 1.0 / (1.0 + math.exp(-z))

    def probabilities(self, calls: Iterable[Mapping[str, Any]]) -> np.ndarray:
        rows = [call_features(c, variant=self.variant) for c in calls]
        return self.pipeline.predict_proba(rows)[:, 1] if rows else np.zeros(0)

    def score(self, call: Mapping[str, Any]) -> int:
        """0–1000, the scale contact-centre fraud rules are written in."""
        if getattr(self, "weights", None):  # versions pickled before the fast path lack it
            return to_score(self.probability(call))
        return to_score(float(self.probabilities([call])[0]))


def to_score(probability: float) -> int:
    return int(round(min(max(probability, 0.0), 1.0) * 1000))


def stratified_split(calls: pd.DataFrame, *, holdout: float = 0.15,
                     seed: int = SPLIT_SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified by label (the file is ordered in label blocks, so a positional split would lie)."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(calls, test_size=holdout, stratify=calls["label"], random_state=seed)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def evaluate_scores(scores: np.ndarray, labels: np.ndarray, thresholds: Iterable[float]) -> dict[str, Any]:
    from apps.decisions.modeling.metrics import binary_metrics_at, roc_auc

    return {
        "n": int(len(labels)),
        "fraud_rate": round(float(np.mean(labels)), 4) if len(labels) else 0.0,
        "auc": roc_auc(scores, labels),
        "at_thresholds": [binary_metrics_at(scores, labels, t) for t in sorted(thresholds)],
    }


def evaluate_risk(model: RiskModel, calls: pd.DataFrame, thresholds: Iterable[float]) -> dict[str, Any]:
    scores = np.array([to_score(p) for p in model.probabilities(calls.to_dict("records"))], dtype=float)
    return {"variant": model.variant, **evaluate_scores(scores, calls["label"].to_numpy(), thresholds)}


def prior_baseline(train: pd.DataFrame, test: pd.DataFrame, thresholds: Iterable[float]) -> dict[str, Any]:
    """Every call gets the training fraud rate: what a score must beat to be worth anything."""
    scores = np.full(len(test), to_score(float(train["label"].mean())), dtype=float)
    return {"variant": "prior", **evaluate_scores(scores, test["label"].to_numpy(), thresholds)}
