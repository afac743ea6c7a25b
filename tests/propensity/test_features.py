"""Journey features and labels on hand-built event frames whose values can be worked out by hand."""
from __future__ import annotations

import pandas as pd
import pytest

from apps.propensity.churn import churn_examples, plan_cutoffs
from apps.propensity.csat import survey_examples, time_slices
from apps.propensity.features import DAY_MS, NEVER_DAYS, FeatureConfig, feature_frame, journey_features

T0 = 1_700_000_000_000


def _events(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame([{"customer_id": c, "event_id": f"{c}-{i}", "type": t, "channel": ch, "ts": T0 + d * DAY_MS,
                           "intent": None, "outcome": o, "attributes": a or {}}
                          for i, (c, t, ch, d, o, a) in enumerate(rows)])
    return frame.sort_values(["customer_id", "ts", "event_id"]).reset_index(drop=True)


EVENTS = _events([
    ("a", "login", "app", 0, None, None),
    ("a", "call", "voice", 2, "resolved", None),
    ("a", "survey_response", "email", 3, None, {"score": 2}),
    ("a", "login", "web", 10, None, None),
    ("a", "login", "app", 40, None, None),  # after the as-of time below: must not count
    ("b", "login", "app", 5, None, None),
])


def test_counts_recency_gaps_last_steps_and_surveys_before_the_as_of_time() -> None:
    # given
    config = FeatureConfig.learn(EVENTS, milestones=["applied", "funded"], identifier_kinds=["phone", "email"])
    rows = EVENTS[EVENTS["customer_id"] == "a"].to_dict("records")
    # when
    f = journey_features(rows, T0 + 12 * DAY_MS, config, milestones={"applied": T0},
                         identifiers=[("phone", T0), ("email", T0 + 99 * DAY_MS)])
    # then
    assert config.types == ("login", "call", "survey_response") and config.channels == ("app", "email", "voice", "web")
    assert (f["n_events"], f["n_events_7d"], f["n_events_30d"]) == (4.0, 1.0, 4.0)
    assert (f["days_since_last"], f["tenure_days"]) == (2.0, 12.0)
    assert (f["type_count:login"], f["type_days_since:login"], f["type_days_since:call"]) == (2.0, 2.0, 10.0)
    assert (f["channel_count:app"], f["channel_days_since:voice"], f["outcome_count:resolved"]) == (1.0, 10.0, 1.0)
    assert (f["gap_mean_hours"], f["gap_max_hours"], f["gap_last_hours"]) == (80.0, 168.0, 168.0)
    assert (f["last_1_type:login"], f["last_2_type:survey_response"], f["last_3_type:call"]) == (1.0, 1.0, 1.0)
    assert f["last_bigram:survey_response>login"] == 1.0
    assert (f["n_surveys"], f["last_survey_score"], f["mean_survey_score"]) == (1.0, 2.0, 2.0)
    assert f["n_identifiers"] == 1.0 and f["distinct_channels"] == 4.0
    assert (f["milestone:applied"], f["milestone:funded"], f["identifier:phone"], f["identifier:email"]) == (
        1.0, 0.0, 1.0, 0.0)


def test_a_customer_with_no_history_gets_never_values() -> None:
    config = FeatureConfig.learn(EVENTS)
    f = journey_features([], T0, config)
    assert f["n_events"] == 0.0 and f["days_since_last"] == NEVER_DAYS and f["type_days_since:call"] == NEVER_DAYS


def test_feature_frame_has_one_row_per_point_in_order() -> None:
    config = FeatureConfig.learn(EVENTS)
    points = pd.DataFrame({"customer_id": ["b", "a", "zz"], "as_of": [T0 + 6 * DAY_MS, T0 + DAY_MS, T0]})
    frame = feature_frame(EVENTS, points, config)
    assert list(frame["n_events"]) == [1.0, 1.0, 0.0]
    assert list(frame.columns) == config.names()


def test_churn_labels_silence_and_explicit_churn_for_customers_active_before_the_cutoff() -> None:
    # given: x active then silent, y active throughout, z closes the account, w inactive before the cutoff
    events = _events([
        ("x", "login", "app", 50, None, None),
        ("y", "login", "app", 55, None, None), ("y", "login", "app", 70, None, None),
        ("z", "login", "app", 58, None, None), ("z", "login", "app", 61, None, None),
        ("z", "churned", "web", 62, None, None),
        ("w", "login", "app", 1, None, None),
    ])
    # when
    examples = churn_examples(events, churn_days=30, cutoffs=[T0 + 60 * DAY_MS])
    # then
    assert sorted(zip(examples["customer_id"], examples["label"], strict=True)) == [("x", 1), ("y", 0), ("z", 1)]


def test_churn_cutoffs_keep_label_windows_apart_and_refuse_short_history() -> None:
    train, validation, holdout = plan_cutoffs(T0, T0 + 400 * DAY_MS, churn_days=90, count=8)
    assert holdout == [T0 + 400 * DAY_MS + 1 - 135 * DAY_MS, T0 + 400 * DAY_MS + 1 - 90 * DAY_MS]
    assert validation + 90 * DAY_MS == holdout[0] and max(train) + 90 * DAY_MS <= validation
    assert len(train) == 5 and min(train) == T0 + 30 * DAY_MS
    with pytest.raises(ValueError, match="the events span 100 days; churn with churn_days=90 needs at least 256 days"):
        plan_cutoffs(T0, T0 + 100 * DAY_MS, churn_days=90, count=8)


def test_survey_examples_label_low_scores_in_time_order() -> None:
    events = _events([
        ("a", "survey_response", "email", 9, None, {"score": 5}),
        ("b", "survey_response", "email", 3, None, {"score": "1"}),
        ("b", "survey_response", "email", 4, None, {"note": "no score"}),
        ("c", "login", "app", 1, None, {"score": 1}),
    ])
    examples = survey_examples(events)
    assert list(zip(examples["customer_id"], examples["score"], examples["label"], strict=True)) == [
        ("b", 1.0, 1), ("a", 5.0, 0)]
    assert time_slices(100) == (slice(0, 64), slice(64, 80), slice(80, 100))
