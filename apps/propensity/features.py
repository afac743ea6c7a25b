"""Journey features: pure functions from the canonical events DataFrame to a pandas feature frame.

One row per (customer, as-of time): only events strictly before the as-of time count, so a training
example never sees its own future. The vocabulary of event types, channels, outcomes and last-step
bigrams is learned once from the training events (`FeatureConfig.learn`) and stored with the model,
so online scoring produces exactly the columns the model was trained on.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
NEVER_DAYS = 3650.0
WINDOWS_DAYS = (7, 30, 90)
LAST_STEPS = 3
SURVEY_TYPES = ("survey", "survey_response")
# Analysed contacts (the conversation summary on a contact's event: customer sentiment -5…5, its change
# from the first to the last quarter of the contact, matched categories): the sentiment trajectory
# across the customer's contacts, and per learned category how often and how recently it was matched.
CONVERSATION_FEATURES = ("contacts_analysed", "contacts_analysed_90d", "contact_sentiment_last",
                         "contact_sentiment_mean", "contact_sentiment_min", "contact_sentiment_trend",
                         "contact_sentiment_change_last", "negative_contacts_90d", "days_since_negative_contact")
NEGATIVE_SENTIMENT = -1.0


@dataclass(frozen=True)
class FeatureConfig:
    types: tuple[str, ...]
    channels: tuple[str, ...]
    outcomes: tuple[str, ...] = ()
    bigrams: tuple[str, ...] = ()
    milestones: tuple[str, ...] = ()
    identifier_kinds: tuple[str, ...] = ()
    exclude_types: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    conversations: bool = False  # conversation features (False in models trained before they existed)

    @classmethod
    def learn(cls, events: pd.DataFrame, *, top: int = 25, exclude_types: Sequence[str] = (),
              milestones: Sequence[str] = (), identifier_kinds: Sequence[str] = ()) -> FeatureConfig:
        """The most frequent types, channels, outcomes and last-step bigrams of the training events."""
        kept = events[~events["type"].isin(list(exclude_types))]
        categories: Counter[str] = Counter()
        for names in kept["categories"] if "categories" in kept.columns else ():
            categories.update(names or ())
        bigrams: Counter[str] = Counter()
        for _, group in kept.groupby("customer_id", sort=False)["type"]:
            steps = list(group)
            bigrams.update(f"{a}>{b}" for a, b in zip(steps, steps[1:], strict=False))
        return cls(
            types=_top(kept["type"], top), channels=_top(kept["channel"], top),
            outcomes=_top(kept["outcome"].dropna(), top), bigrams=tuple(b for b, _ in bigrams.most_common(top)),
            milestones=tuple(sorted(milestones)), identifier_kinds=tuple(sorted(identifier_kinds)),
            exclude_types=tuple(exclude_types), conversations=True,
            categories=tuple(sorted(c for c, _ in categories.most_common(top))),
        )

    def names(self) -> list[str]:
        """Column names in model order (computed once per config: online scoring asks for them per call)."""
        cached = self.__dict__.get("_names")
        if cached is None:
            cached = self._build_names()
            object.__setattr__(self, "_names", cached)
        return list(cached)

    def _build_names(self) -> tuple[str, ...]:
        names = ["n_events", *[f"n_events_{d}d" for d in WINDOWS_DAYS], "days_since_last", "tenure_days",
                 "distinct_types", "distinct_channels", "gap_mean_hours", "gap_max_hours", "gap_last_hours",
                 "n_surveys", "last_survey_score", "mean_survey_score"]
        names += [f"type_count:{t}" for t in self.types] + [f"type_days_since:{t}" for t in self.types]
        names += [f"channel_count:{c}" for c in self.channels] + [f"channel_days_since:{c}" for c in self.channels]
        names += [f"outcome_count:{o}" for o in self.outcomes]
        names += [f"last_{k}_type:{t}" for k in range(1, LAST_STEPS + 1) for t in self.types]
        names += [f"last_bigram:{b}" for b in self.bigrams]
        names += [f"milestone:{m}" for m in self.milestones]
        names += ["n_identifiers"] + [f"identifier:{k}" for k in self.identifier_kinds]
        if self.conversations:
            names += list(CONVERSATION_FEATURES)
            names += [f"category_count:{c}" for c in self.categories]
            names += [f"category_days_since:{c}" for c in self.categories]
        return tuple(names)


def _top(values: pd.Series, top: int) -> tuple[str, ...]:
    return tuple(str(v) for v in values.astype(str).value_counts().sort_index().sort_values(
        ascending=False, kind="stable").index[:top])


def journey_features(events: Sequence[Mapping[str, Any]], as_of: int, config: FeatureConfig,
                     milestones: Mapping[str, int] | None = None,
                     identifiers: Sequence[tuple[str, int]] | None = None) -> dict[str, float]:
    """Features of one customer's events (sorted by ts) strictly before `as_of` (epoch ms).

    `milestones` maps slug → time reached; `identifiers` lists (kind, first seen); both count only
    when they were known before `as_of`.
    """
    seen = [e for e in events if e["ts"] < as_of and e["type"] not in config.exclude_types]
    f: dict[str, float] = dict.fromkeys(config.names(), 0.0)
    for t in config.types:
        f[f"type_days_since:{t}"] = NEVER_DAYS
    for c in config.channels:
        f[f"channel_days_since:{c}"] = NEVER_DAYS
    f["days_since_last"] = f["tenure_days"] = NEVER_DAYS
    if config.conversations:
        f["days_since_negative_contact"] = NEVER_DAYS
        for c in config.categories:
            f[f"category_days_since:{c}"] = NEVER_DAYS
    if seen:
        _activity(f, seen, as_of)
        _surveys(f, seen)
        _last_steps(f, seen, config)
        if config.conversations:
            _conversations(f, seen, as_of)
    for slug, ts in (milestones or {}).items():
        if ts < as_of and f"milestone:{slug}" in f:
            f[f"milestone:{slug}"] = 1.0
    known = [kind for kind, first_seen in identifiers or () if first_seen < as_of]
    f["n_identifiers"] = float(len(known))
    for kind in known:
        if f"identifier:{kind}" in f:
            f[f"identifier:{kind}"] = 1.0
    return f


def _activity(f: dict[str, float], seen: list[Mapping[str, Any]], as_of: int) -> None:
    ts = np.array([e["ts"] for e in seen], dtype=np.int64)
    f["n_events"] = float(len(seen))
    for d in WINDOWS_DAYS:
        f[f"n_events_{d}d"] = float((ts >= as_of - d * DAY_MS).sum())
    f["days_since_last"] = (as_of - ts[-1]) / DAY_MS
    f["tenure_days"] = (as_of - ts[0]) / DAY_MS
    f["distinct_types"] = float(len({e["type"] for e in seen}))
    f["distinct_channels"] = float(len({e["channel"] for e in seen}))
    if len(ts) > 1:
        gaps = np.diff(ts) / HOUR_MS
        f["gap_mean_hours"], f["gap_max_hours"], f["gap_last_hours"] = gaps.mean(), gaps.max(), gaps[-1]
    for e in seen:
        days = (as_of - e["ts"]) / DAY_MS
        for key in (f"type_count:{e['type']}", f"channel_count:{e['channel']}", f"outcome_count:{e['outcome']}"):
            if key in f:
                f[key] += 1.0
        for key in (f"type_days_since:{e['type']}", f"channel_days_since:{e['channel']}"):
            if key in f:
                f[key] = min(f[key], days)


def _surveys(f: dict[str, float], seen: list[Mapping[str, Any]]) -> None:
    scores = [s for s in (survey_score(e) for e in seen) if s is not None]
    if scores:
        f["n_surveys"], f["last_survey_score"], f["mean_survey_score"] = len(scores), scores[-1], float(np.mean(scores))


def _last_steps(f: dict[str, float], seen: list[Mapping[str, Any]], config: FeatureConfig) -> None:
    steps = [e["type"] for e in seen[-LAST_STEPS:]][::-1]
    for k, step in enumerate(steps, start=1):
        if f"last_{k}_type:{step}" in f:
            f[f"last_{k}_type:{step}"] = 1.0
    if len(steps) > 1 and f"last_bigram:{steps[1]}>{steps[0]}" in f:
        f[f"last_bigram:{steps[1]}>{steps[0]}"] = 1.0


def _conversations(f: dict[str, float], seen: list[Mapping[str, Any]], as_of: int) -> None:
    """Sentiment trajectory and categories of the analysed contacts (events with a summary) so far."""
    contacts = [e for e in seen if _number(e.get("sentiment_customer")) is not None or e.get("categories")]
    if not contacts:
        return
    recent = as_of - 90 * DAY_MS
    f["contacts_analysed"] = float(len(contacts))
    f["contacts_analysed_90d"] = float(sum(e["ts"] >= recent for e in contacts))
    scored = [(e["ts"], s) for e in contacts if (s := _number(e.get("sentiment_customer"))) is not None]
    if scored:
        values = [s for _, s in scored]
        f["contact_sentiment_last"], f["contact_sentiment_min"] = values[-1], min(values)
        f["contact_sentiment_mean"] = float(np.mean(values))
        f["contact_sentiment_trend"] = values[-1] - float(np.mean(values[:-1])) if len(values) > 1 else 0.0
        negative = [ts for ts, s in scored if s <= NEGATIVE_SENTIMENT]
        f["negative_contacts_90d"] = float(sum(ts >= recent for ts in negative))
        if negative:
            f["days_since_negative_contact"] = (as_of - negative[-1]) / DAY_MS
    f["contact_sentiment_change_last"] = _number(contacts[-1].get("sentiment_change")) or 0.0
    for e in contacts:
        for name in e.get("categories") or ():
            if f"category_count:{name}" in f:
                f[f"category_count:{name}"] += 1.0
                f[f"category_days_since:{name}"] = (as_of - e["ts"]) / DAY_MS


def _number(value: Any) -> float | None:
    """A summary number, None where the event has none (a graph row lacks it, a frame holds None or NaN)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return float(value)


def survey_score(event: Mapping[str, Any]) -> float | None:
    """The numeric score of a survey event (attributes.score), or None for any other event."""
    if event["type"] not in SURVEY_TYPES:
        return None
    raw = (event.get("attributes") or {}).get("score")
    try:
        return float(raw) if raw is not None and raw != "" else None
    except (TypeError, ValueError):
        return None


def events_by_customer(events: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """The canonical frame as {customer_id: [event dicts in time order]}."""
    ordered = events.sort_values(["customer_id", "ts", "event_id"], kind="stable")
    out: dict[str, list[dict[str, Any]]] = {}
    for row in ordered.to_dict("records"):
        out.setdefault(str(row["customer_id"]), []).append(row)
    return out


def feature_frame(events: pd.DataFrame, points: pd.DataFrame, config: FeatureConfig,
                  milestones: Mapping[str, Mapping[str, int]] | None = None,
                  identifiers: Mapping[str, Sequence[tuple[str, int]]] | None = None) -> pd.DataFrame:
    """Features for each (customer_id, as_of) row of `points`, in the order of `points`."""
    grouped = events_by_customer(events)
    rows = [journey_features(grouped.get(str(cid), []), int(as_of), config,
                             (milestones or {}).get(str(cid)), (identifiers or {}).get(str(cid)))
            for cid, as_of in zip(points["customer_id"], points["as_of"], strict=True)]
    return pd.DataFrame(rows, columns=config.names(), index=points.index, dtype=np.float64)
