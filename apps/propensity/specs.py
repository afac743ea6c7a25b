"""Model specifications: how each named model builds its data set, trains, evaluates and scores.

`train` and `evaluate` (commands, background task, API) only know names; every model type plugs in
by calling `register_spec(name, spec)` when its module is imported. Each app imports its own spec
modules, plainly, in its AppConfig.ready() (the training libraries they need are loaded at start-up by
the views anyway), so this app never names another app and readers and tools see every dependency.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ProgressFn = Callable[[float, str], None]


def _no_progress(fraction: float, message: str) -> None:
    return None


@dataclass(frozen=True)
class TrainRequest:
    """What a training run was asked for; `data` overrides the spec's default source when given."""

    since: datetime | None = None
    until: datetime | None = None
    data: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    progress: ProgressFn = _no_progress


@dataclass(frozen=True)
class TrainResult:
    """Everything the registry records about a trained model; `model` must be picklable."""

    model: Any
    metrics: dict[str, Any]
    baseline_metrics: dict[str, Any]
    features: list[str]
    train_window: tuple[datetime | None, datetime | None] = (None, None)
    calibration: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Contribution:
    feature: str
    value: float
    contribution: float


@dataclass(frozen=True)
class CustomerScore:
    """One model's online score for one customer, with the features that pushed it most."""

    model: str
    version: int
    score: float
    label: bool | None
    contributions: list[Contribution]


@dataclass(frozen=True)
class CustomerJourney:
    """What online scoring reads about one customer, once, for every model it asks."""

    customer_id: str
    events: list[dict[str, Any]]  # canonical keys, (ts, event_id) order
    milestones: dict[str, int] = field(default_factory=dict)  # slug -> time reached
    identifiers: list[tuple[str, int]] = field(default_factory=list)  # (kind, first seen)


@dataclass(frozen=True)
class ModelSpec:
    """How one named model is trained, evaluated on a labelled file, and scored for one customer.

    - `train(request)` returns a TrainResult (the command registers it).
    - `evaluate(model, path)` scores a labelled file in the model's data-set format and returns metrics.
    - `score_customer(model, customer_id, version)` (optional) returns a CustomerScore for online use.
    - `score_journey(model, journey, version)` (optional) scores a CustomerJourney already read, so
      several models share one read of the customer's journey.
    - `score_all(model)` (optional) returns {customer_id: score} for writing scores back to the graph.
    - `gate_metric` is the holdout metric that must beat every stored baseline's for activation.
    """

    name: str
    description: str
    train: Callable[[TrainRequest], TrainResult]
    evaluate: Callable[[Any, Path], dict[str, Any]]
    score_customer: Callable[[Any, str, int], CustomerScore] | None = None
    score_journey: Callable[[Any, CustomerJourney, int], CustomerScore] | None = None
    score_all: Callable[[Any], dict[str, float]] | None = None
    score_property: str | None = None
    gate_metric: str = "auc"  # what the activation gate compares with the baseline's (higher is better)


_specs: dict[str, ModelSpec] = {}


def register_spec(name: str, spec: ModelSpec) -> None:
    """Make `name` trainable and evaluable; registering the same name again replaces the spec."""
    _specs[name] = spec


def get_spec(name: str) -> ModelSpec:
    if name not in _specs:
        known = ", ".join(sorted(_specs)) or "none"
        raise KeyError(f"unknown model {name!r}; known models: {known}")
    return _specs[name]


def spec_names() -> list[str]:
    return sorted(_specs)
