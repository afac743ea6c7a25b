"""Call-risk model: the probability that a call is fraudulent, from what the caller's history says
before the call (caller_profile.py), on the 0-1000 scale contact-centre rules are written in.

Training reads the fraud_calls data set, whose `call_duration` is the caller's historic average call
duration (a profile fact looked up before the call), and never `customer_class`, which maps one to one
onto the label. The model is gradient boosting over the profile features, calibrated (isotonic) on a
validation slice; each score comes with the features that moved it (path contributions, below). The
call-time logistic regression this replaced (channel, hour, phone and e-mail shape, AUC about 0.5) is
kept as a baseline beside the prior, and so that versions stored before still load.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# the call-time model (now a baseline) and its old comparison variant, which also read the two columns it
# then took for leaks; versions stored with them still load
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
        "row": np.arange(len(frame)),
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


# ---------------------------------------------------------------- the history model

HISTORY = "caller_history"
EXCLUDED_FEATURES = {"customer_class": "maps one to one onto fraud_label in fraud_calls (classes b and o are "
                                       "always fraud, g, p and s never): a label leak, not a fact about a caller"}
GBM_PARAMS: dict[str, Any] = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 20,
                              "feature_fraction": 0.9, "lambda_l2": 1.0, "verbose": -1, "num_threads": 1}
GBM_ROUNDS = 200
VALIDATION_FRACTION = 0.15
MIN_CATEGORY_ROWS = 100  # the data set's mock e-mail domains have fewer rows each: only top-level domains qualify
EXPLAIN_MIN = 0.05  # log-odds: smaller contributions are not named as reasons


def fraud_profiles(calls: pd.DataFrame) -> list[dict[str, Any]]:
    """Each fraud_calls row as a caller profile; identifiers shared = rows of the file carrying the value."""
    from apps.decisions.modeling.caller_profile import profile_from_fraud_row

    counts = {kind: calls[column].value_counts() for kind, column in (("phone", "phone"), ("email", "email"),
                                                                     ("ip", "ip"))}
    return [profile_from_fraud_row(row, {kind: int(counts[kind].get(row[column], 0)) if row[column] else 0
                                         for kind, column in (("phone", "phone"), ("email", "email"), ("ip", "ip"))})
            for row in calls.to_dict("records")]


@dataclass(frozen=True)
class Assessment:
    """A model's answer for one caller: the 0-1000 score and the features that moved it (log-odds)."""

    score: int
    contributions: list[dict[str, Any]]


@dataclass(frozen=True)
class PathContributions:
    """Each feature's part in a boosted score, by the path each tree's row takes (Saabas; XGBoost's
    `approx_contribs`): along a path, every split adds to its feature the change in the node's value.
    Read once from the booster's trees into a table (tree, leaf → contributions), a row's contributions
    are a gather and a sum over the leaves it lands in: about a third of the booster's exact SHAP
    values' time (40 against 116 µs a row), which a risk decision paid while the caller waited. They sum,
    with `bias` (the roots' values), to the booster's margin, and name the same leading features."""

    table: np.ndarray  # (trees, leaves, features)
    bias: float

    @classmethod
    def of_booster(cls, booster: Any, features: int) -> PathContributions:
        trees = booster.dump_model()["tree_info"]
        table = np.zeros((len(trees), max(t["num_leaves"] for t in trees), features))
        bias = 0.0
        for k, tree in enumerate(trees):
            root = tree["tree_structure"]
            if "split_feature" not in root:  # a tree of one leaf
                bias += root["leaf_value"]
                continue
            bias += root["internal_value"]
            _walk(root, np.zeros(features), table[k])
        return cls(table=table, bias=bias)

    def of(self, leaves: np.ndarray, chunk: int = 512) -> np.ndarray:
        """(rows, features) contributions for the leaf of each row in each tree, `chunk` rows at a time
        (a gather holds rows x trees x features numbers)."""
        trees = np.arange(self.table.shape[0])
        parts = [self.table[trees, leaves[start:start + chunk]].sum(axis=1) for start in range(0, len(leaves), chunk)]
        return np.concatenate(parts) if parts else np.zeros((0, self.table.shape[2]))


def _walk(node: Mapping[str, Any], above: np.ndarray, leaves: np.ndarray) -> None:
    for side in ("left_child", "right_child"):
        child = node[side]
        value = child["leaf_value"] if "leaf_index" in child else child["internal_value"]
        here = above.copy()
        here[node["split_feature"]] += value - node["internal_value"]
        if "leaf_index" in child:
            leaves[child["leaf_index"]] = here
        else:
            _walk(child, here, leaves)


@dataclass
class HistoryRiskModel:
    """Gradient boosting over `caller_profile.risk_features`, calibrated; scores one profile in about a
    millisecond (the booster on one row, without pandas)."""

    booster: Any = None
    calibrator: Any = None
    categories: dict[str, list[str]] = field(default_factory=dict)
    variant: str = HISTORY

    @property
    def features(self) -> list[str]:
        from apps.decisions.modeling.caller_profile import FEATURES

        return list(FEATURES)

    def matrix(self, profiles: Iterable[Mapping[str, Any]]) -> np.ndarray:
        from apps.decisions.modeling.caller_profile import CATEGORICAL_FEATURES, risk_features

        rows = []
        for profile in profiles:
            values = risk_features(profile)
            rows.append([self._code(name, values[name]) if name in CATEGORICAL_FEATURES else values[name]
                         for name in self.features])
        return np.asarray(rows, dtype=np.float64).reshape(-1, len(self.features))

    def _code(self, name: str, value: Any) -> float:
        known = self.categories.get(name, [])
        return float(known.index(value)) if value in known else math.nan

    def fit(self, profiles: Sequence[Mapping[str, Any]], labels: np.ndarray, validation: Sequence[Mapping[str, Any]],
            validation_labels: np.ndarray, *, seed: int = 0) -> HistoryRiskModel:
        import lightgbm as lgb
        from sklearn.isotonic import IsotonicRegression

        from apps.decisions.modeling.caller_profile import CATEGORICAL_FEATURES, risk_features

        for name in CATEGORICAL_FEATURES:
            counts = pd.Series([risk_features(p)[name] for p in profiles]).value_counts()
            self.categories[name] = sorted(str(v) for v, n in counts.items() if n >= MIN_CATEGORY_ROWS and v)
        cat_idx = [self.features.index(c) for c in CATEGORICAL_FEATURES]
        data = lgb.Dataset(self.matrix(profiles), label=labels, categorical_feature=cat_idx, free_raw_data=False)
        self.booster = lgb.train({**GBM_PARAMS, "seed": seed}, data, num_boost_round=GBM_ROUNDS)
        raw = self._raw(self.matrix(validation))
        self.calibrator = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, validation_labels)
        return self

    def _raw(self, X: np.ndarray) -> np.ndarray:
        return self._scores(X)[0]

    def _scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The booster's probabilities (before calibration) and each feature's contribution (log-odds),
        from one pass of the booster (the leaf each tree puts a row in): the margin is the bias plus the
        contributions, and the probability that margin through the binary objective's sigmoid, for a
        live assessment and a batch alike."""
        paths = self._paths
        leaves = np.asarray(self.booster.predict(X, pred_leaf=True, num_threads=1), dtype=np.intp)
        contrib = paths.of(leaves.reshape(len(X), -1))
        return 1.0 / (1.0 + np.exp(-(paths.bias + contrib.sum(axis=1)))), contrib

    @cached_property
    def _paths(self) -> PathContributions:
        return PathContributions.of_booster(self.booster, len(self.features))

    def __getstate__(self) -> dict[str, Any]:
        """The stored model holds the booster, not the table read from it."""
        return {k: v for k, v in self.__dict__.items() if k != "_paths"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """The table is read as the model loads (15-20 ms for 200 trees), which for a newly activated
        version happens off a caller's path (`registry.load_active`), not on its first assessment."""
        self.__dict__.update(state)
        if self.booster is not None:
            self._paths  # noqa: B018 - read now, as the model loads

    def probabilities(self, profiles: Iterable[Mapping[str, Any]]) -> np.ndarray:
        X = self.matrix(profiles)
        return np.asarray(self.calibrator.predict(self._raw(X)), dtype=float) if len(X) else np.zeros(0)

    def _calibrated(self, raw: np.ndarray) -> np.ndarray:
        """`calibrator.predict(raw)` for scores the booster has just produced, without scikit-learn's input
        validation (half the time of a live assessment): the same interpolation (`f_`) of the same clipped
        values, so the same numbers bit for bit. Any other calibrator is asked as usual."""
        calibrator = self.calibrator
        interpolate = getattr(calibrator, "f_", None)
        thresholds = getattr(calibrator, "X_thresholds_", None)
        if (interpolate is None or getattr(calibrator, "out_of_bounds", None) != "clip" or thresholds is None
                or raw.dtype != thresholds.dtype or raw.ndim != 1):
            return np.asarray(calibrator.predict(raw), dtype=float)
        clipped = np.clip(raw, calibrator.X_min_, calibrator.X_max_)
        return np.asarray(interpolate(clipped).astype(clipped.dtype), dtype=float)

    def assess(self, profile: Mapping[str, Any], top: int = 3) -> Assessment:
        """The score of one profile and the features that moved it most, in the booster's log-odds."""
        X = self.matrix([profile])
        raw, contributions = self._scores(X)
        probability = float(self._calibrated(raw)[0])
        contrib = contributions[0]
        order = np.argsort(-np.abs(contrib), kind="stable")[:top]
        moved = [{"feature": self.features[i], "value": _plain(X[0, i], self.features[i], self.categories),
                  "effect": round(float(contrib[i]), 3)} for i in order if abs(contrib[i]) >= EXPLAIN_MIN]
        return Assessment(score=to_score(probability), contributions=moved)


def _plain(value: float, name: str, categories: Mapping[str, list[str]]) -> Any:
    if name in categories:
        return categories[name][int(value)] if not math.isnan(value) else None
    return None if math.isnan(value) else round(float(value), 3)


def assess(model: Any, call: Mapping[str, Any], profile: Mapping[str, Any]) -> Assessment:
    """Any stored risk model's answer: the history model reads the profile, the older call-time one
    the call itself (and names no features)."""
    if isinstance(model, HistoryRiskModel):
        return model.assess(profile)
    return Assessment(score=model.score(call), contributions=[])


def train_history_model(calls: pd.DataFrame, *, seed: int = SPLIT_SEED) -> tuple[HistoryRiskModel, pd.DataFrame,
                                                                                   pd.DataFrame]:
    """(model, training calls, holdout calls): a stratified 15% holdout, 15% of the rest for calibration."""
    train, test = stratified_split(calls, seed=seed)
    fit_part, validation = stratified_split(train, holdout=VALIDATION_FRACTION, seed=seed + 1)
    profiles = dict(zip(calls["row"], fraud_profiles(calls), strict=True))

    def of(part: pd.DataFrame) -> list[dict[str, Any]]:
        return [profiles[r] for r in part["row"]]

    model = HistoryRiskModel().fit(of(fit_part), fit_part["label"].to_numpy(), of(validation),
                                   validation["label"].to_numpy(), seed=seed)
    return model, train, test


def evaluate_history(model: HistoryRiskModel, calls: pd.DataFrame, holdout: pd.DataFrame,
                     thresholds: Iterable[float]) -> dict[str, Any]:
    """The model on `holdout` (rows of `calls`, whose whole file sets the identifier-sharing counts)."""
    profiles = dict(zip(calls["row"], fraud_profiles(calls), strict=True))
    scores = np.array([to_score(p) for p in model.probabilities([profiles[r] for r in holdout["row"]])],
                      dtype=float)
    return {"variant": model.variant, **evaluate_scores(scores, holdout["label"].to_numpy(), thresholds)}


def customer_class_rule(holdout: pd.DataFrame) -> float:
    """AUC of the rule `customer_class in {b, o}` on the holdout: what the excluded column would fake."""
    from apps.decisions.modeling.metrics import roc_auc

    flagged = holdout["customer_class"].isin(["b", "o"]).to_numpy(dtype=float)
    return roc_auc(flagged, holdout["label"].to_numpy())
