"""CSAT: will the customer's next survey score be low (<= 2 of 5), judged from the journey before it?

Examples are the survey events that carry a numeric `score` attribute; features use only the events
strictly before each survey (earlier surveys included). The split is by survey time: the last 20% of
surveys are the holdout, the 20% before them the validation slice for calibration and the threshold.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from apps.propensity import journeymodel, selectors
from apps.propensity.features import SURVEY_TYPES, feature_frame, survey_score
from apps.propensity.specs import ModelSpec, TrainRequest, TrainResult, register_spec
from apps.propensity.training import fit_binary

LOW_SCORE = 2
HOLDOUT_FRACTION = 0.2
VALIDATION_FRACTION = 0.2
BASELINE_FEATURES = ["n_surveys", "last_survey_score", "mean_survey_score", "n_events_30d"]


def survey_examples(events: pd.DataFrame, *, low_score: int = LOW_SCORE) -> pd.DataFrame:
    """Rows (customer_id, as_of = survey time, score, label = score <= low_score), oldest first."""
    surveys = events[events["type"].isin(SURVEY_TYPES)]
    rows = []
    for event in surveys.to_dict("records"):
        score = survey_score(event)
        if score is not None:
            rows.append((str(event["customer_id"]), int(event["ts"]), score, int(score <= low_score)))
    frame = pd.DataFrame(rows, columns=["customer_id", "as_of", "score", "label"])
    return frame.sort_values(["as_of", "customer_id"], kind="stable").reset_index(drop=True)


def time_slices(n: int) -> tuple[slice, slice, slice]:
    """(train, validation, holdout) positions over rows sorted by time."""
    n_hold = max(1, int(round(n * HOLDOUT_FRACTION)))
    n_val = max(1, int(round((n - n_hold) * VALIDATION_FRACTION)))
    return slice(0, n - n_hold - n_val), slice(n - n_hold - n_val, n - n_hold), slice(n - n_hold, n)


def train(request: TrainRequest) -> TrainResult:
    low = int(request.params.get("low_score", LOW_SCORE))
    request.progress(0.05, "reading events from the graph")
    events = selectors.journey_events(since=request.since, until=request.until)
    examples = survey_examples(events, low_score=low) if not events.empty else survey_examples(events.head(0))
    if len(examples) < 20:
        raise ValueError(f"found {len(examples)} scored survey events (types {', '.join(SURVEY_TYPES)} with "
                         "attributes.score); CSAT needs at least 20")
    tr, val, hold = time_slices(len(examples))
    milestones, identifiers = journeymodel.graph_facts_for(events)
    config = journeymodel.learn_config(events[events["ts"] < int(examples["as_of"].iloc[val.start])], identifiers,
                                       milestones)
    request.progress(0.2, f"building journey features for {len(examples)} surveys")
    X = feature_frame(events, examples, config, milestones, identifiers)
    y = examples["label"]
    request.progress(0.6, "fitting gradient boosting, calibration and the baseline")
    outcome = fit_binary(features=config.names(), train=(X.iloc[tr], y.iloc[tr]), validation=(X.iloc[val], y.iloc[val]),
                         holdout=(X.iloc[hold], y.iloc[hold]), baseline_features=BASELINE_FEATURES,
                         params={k: v for k, v in request.params.items() if k != "low_score"}, seed=request.seed)
    t_min, t_max = int(events["ts"].min()), int(events["ts"].max())
    model = journeymodel.JourneyModel(kind="csat", config=config, classifier=outcome.model, data_end_ms=t_max + 1,
                                      threshold=outcome.model.threshold, baseline=outcome.baseline,
                                      params={"low_score": low})
    split = {"split": "time", "holdout_from": str(selectors.from_ms(int(examples["as_of"].iloc[hold.start]))),
             "holdout_fraction": round((hold.stop - hold.start) / len(examples), 4), "low_score": low,
             "train_rows": tr.stop - tr.start, "validation_rows": val.stop - val.start}
    return TrainResult(model=model, metrics={**outcome.metrics, **split}, baseline_metrics=outcome.baseline_metrics,
                       features=config.names(), train_window=(selectors.from_ms(t_min), selectors.from_ms(t_max)),
                       calibration=outcome.calibration, params={"low_score": low})


def evaluate(model: journeymodel.JourneyModel, path: Path) -> dict[str, Any]:
    """Score every scored survey in an events file from the journey before it."""
    from apps.propensity.eventfile import read_events_and_identifiers

    events, identifiers = read_events_and_identifiers(path)  # a file carries no milestones: those stay zero
    examples = survey_examples(events, low_score=int(model.params["low_score"]))
    if examples.empty:
        raise ValueError(f"{path}: no survey events with a numeric attributes.score")
    return model.evaluate_frame(feature_frame(events, examples, model.config, identifiers=identifiers),
                                examples["label"])


register_spec("csat", ModelSpec(
    name="csat", description="Probability that the next survey scores low (<= 2 of 5), from the journey before it.",
    train=train, evaluate=evaluate, score_customer=journeymodel.score_customer,
    score_journey=journeymodel.score_journey, score_all=journeymodel.score_all,
    score_property="csat_low_score",
))
