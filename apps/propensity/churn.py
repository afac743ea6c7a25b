"""Churn: will an active customer go silent (or close the account) within the next N days?

Examples are (customer, cut-off) pairs taken at several cut-offs through the history: a customer active
in the N days before a cut-off is labelled churned when an explicit `churned` event or no activity at all
follows within N days. The holdout is the last cut-off whose N-day window is fully observed; training and
validation cut-offs end their label windows before it, so nothing from the holdout period leaks in.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from apps.propensity import journeymodel, selectors
from apps.propensity.features import DAY_MS, feature_frame
from apps.propensity.specs import ModelSpec, TrainRequest, TrainResult, register_spec
from apps.propensity.training import fit_binary

CHURN_TYPES = ("churned",)
DEFAULT_CHURN_DAYS = 90
DEFAULT_CUTOFFS = 8
MIN_HISTORY_DAYS = 30
MIN_HOLDOUT_SHARE = 0.15
BASELINE_FEATURES = ["days_since_last", "n_events", "n_events_90d"]


def churn_examples(events: pd.DataFrame, *, churn_days: int, cutoffs: list[int]) -> pd.DataFrame:
    """Rows (customer_id, as_of, label) for customers active in the `churn_days` before each cut-off."""
    horizon = churn_days * DAY_MS
    activity = events[~events["type"].isin(CHURN_TYPES)]
    churned_at = events[events["type"].isin(CHURN_TYPES)].groupby("customer_id")["ts"].min()
    rows = []
    for cut in cutoffs:
        before = activity[(activity["ts"] < cut) & (activity["ts"] >= cut - horizon)]["customer_id"].unique()
        after = set(activity[(activity["ts"] >= cut) & (activity["ts"] < cut + horizon)]["customer_id"])
        for cid in before:
            closed = churned_at.get(cid)
            if closed is not None and closed < cut:
                continue
            explicit = closed is not None and closed < cut + horizon
            rows.append((str(cid), int(cut), int(explicit or cid not in after)))
    return pd.DataFrame(rows, columns=["customer_id", "as_of", "label"])


def plan_cutoffs(t_min: int, t_max: int, *, churn_days: int, count: int) -> tuple[list[int], int, list[int]]:
    """(training cut-offs, validation cut-off, holdout cut-offs), every label window inside the data.

    Two holdout cut-offs half a window apart keep the holdout a sizeable share of the examples; the
    validation window ends where the holdout begins.
    """
    horizon = churn_days * DAY_MS
    holdout = [t_max + 1 - horizon - horizon // 2, t_max + 1 - horizon]
    validation = holdout[0] - horizon
    first = t_min + MIN_HISTORY_DAYS * DAY_MS
    if validation - first < DAY_MS:
        need = MIN_HISTORY_DAYS + int(2.5 * churn_days) + 1
        raise ValueError(f"the events span {(t_max - t_min) / DAY_MS:.0f} days; churn with churn_days={churn_days} "
                         f"needs at least {need} days (lower --param churn_days or load more history)")
    train = [int(c) for c in np.linspace(first, validation - horizon, max(1, count - 3))]
    return [c for c in train if c >= first] or [first], validation, holdout


def _ensure_holdout_share(examples: pd.DataFrame, train_cuts: list[int], holdout: list[int]) -> list[int]:
    """Drop the earliest training cut-offs until the holdout is at least MIN_HOLDOUT_SHARE of the rows."""
    cuts = list(train_cuts)
    while len(cuts) > 1:
        kept = examples[~examples["as_of"].isin(set(train_cuts) - set(cuts))]
        if kept["as_of"].isin(holdout).mean() >= MIN_HOLDOUT_SHARE:
            break
        cuts.pop(0)
    return cuts


def train(request: TrainRequest) -> TrainResult:
    churn_days = int(request.params.get("churn_days", DEFAULT_CHURN_DAYS))
    count = int(request.params.get("cutoffs", DEFAULT_CUTOFFS))
    request.progress(0.05, "reading events from the graph")
    events = selectors.journey_events(since=request.since, until=request.until)
    if events.empty:
        raise ValueError("no events in the graph for this window; load data first (manage.py demo / ingest)")
    t_min, t_max = int(events["ts"].min()), int(events["ts"].max())
    train_cuts, val_cut, hold_cuts = plan_cutoffs(t_min, t_max, churn_days=churn_days, count=count)
    request.progress(0.15, f"labelling customers at {len(train_cuts) + 3} cut-offs (churn after {churn_days} days)")
    examples = churn_examples(events, churn_days=churn_days, cutoffs=[*train_cuts, val_cut, *hold_cuts])
    train_cuts = _ensure_holdout_share(examples, train_cuts, hold_cuts)
    examples = examples[examples["as_of"].isin([*train_cuts, val_cut, *hold_cuts])].reset_index(drop=True)
    milestones, identifiers = journeymodel.graph_facts_for(events)
    config = journeymodel.learn_config(events[events["ts"] < val_cut], identifiers, milestones,
                                       exclude_types=CHURN_TYPES)
    request.progress(0.3, f"building journey features for {len(examples)} examples")
    X = feature_frame(events, examples, config, milestones, identifiers)
    parts = {name: examples["as_of"].isin(cuts) for name, cuts in
             (("train", train_cuts), ("validation", [val_cut]), ("holdout", hold_cuts))}
    request.progress(0.6, "fitting gradient boosting, calibration and the baseline")
    sliced = {name: (X[mask], examples["label"][mask]) for name, mask in parts.items()}
    outcome = fit_binary(features=config.names(), seed=request.seed, baseline_features=BASELINE_FEATURES,
                         params={k: v for k, v in request.params.items() if k not in ("churn_days", "cutoffs")},
                         train=sliced["train"], validation=sliced["validation"], holdout=sliced["holdout"])
    model = journeymodel.JourneyModel(kind="churn", config=config, classifier=outcome.model, data_end_ms=t_max + 1,
                                      threshold=outcome.model.threshold, baseline=outcome.baseline,
                                      params={"churn_days": churn_days})
    split = {"split": "time", "holdout_from": str(selectors.from_ms(hold_cuts[0])), "churn_days": churn_days,
             "holdout_fraction": round(float(parts["holdout"].mean()), 4),
             "train_rows": int(parts["train"].sum()), "validation_rows": int(parts["validation"].sum())}
    return TrainResult(model=model, metrics={**outcome.metrics, **split}, baseline_metrics=outcome.baseline_metrics,
                       features=config.names(), train_window=(selectors.from_ms(t_min), selectors.from_ms(t_max)),
                       calibration=outcome.calibration, params={"churn_days": churn_days, "cutoffs": count})


def evaluate(model: journeymodel.JourneyModel, path: Path) -> dict[str, Any]:
    """Label the file's customers at its last fully observed cut-off and score them with the model."""
    from apps.propensity.eventfile import read_events_and_identifiers

    events, identifiers = read_events_and_identifiers(path)  # a file carries no milestones: those stay zero
    churn_days = int(model.params["churn_days"])
    hold_cut = int(events["ts"].max()) + 1 - churn_days * DAY_MS
    if hold_cut <= int(events["ts"].min()):
        raise ValueError(f"{path}: the events span less than churn_days={churn_days} days")
    examples = churn_examples(events, churn_days=churn_days, cutoffs=[hold_cut])
    if examples.empty:
        raise ValueError(f"{path}: no customer is active in the {churn_days} days before {selectors.from_ms(hold_cut)}")
    return model.evaluate_frame(feature_frame(events, examples, model.config, identifiers=identifiers),
                                examples["label"])


register_spec("churn", ModelSpec(
    name="churn", description="Probability that an active customer churns (silence or `churned`) within N days.",
    train=train, evaluate=evaluate, score_customer=journeymodel.score_customer,
    score_journey=journeymodel.score_journey, score_all=journeymodel.score_all,
    score_property="churn_score",
))
