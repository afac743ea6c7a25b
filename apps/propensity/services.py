"""Writes of the propensity app: train-and-register, and scores written back to the graph."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from apps.propensity import registry
from apps.propensity.models import ModelVersion
from apps.propensity.specs import ProgressFn, TrainRequest, get_spec


def train_model(*, name: str, since: datetime | None = None, until: datetime | None = None,
                data: Path | None = None, params: dict[str, Any] | None = None, seed: int = 0,
                trained_by: str = "system", activate: bool = True, progress: ProgressFn | None = None,
                user: Any = None, write_scores: bool = True) -> ModelVersion:
    """Build the data set, train, evaluate against the baseline and register the result as a new version.

    When the new version is active and the model scores customers, every customer's score is written
    back to the graph, so lists ordered by score match the served model.
    """
    spec = get_spec(name)
    request = TrainRequest(since=since, until=until, data=data, params=dict(params or {}), seed=seed)
    if progress is not None:
        request = replace(request, progress=progress)
    request.progress(0.0, f"training {name}")
    result = spec.train(request)
    request.progress(0.95, "registering")
    version = registry.register_model(
        name=name, model=result.model, metrics=result.metrics, baseline_metrics=result.baseline_metrics,
        features=result.features, train_window=result.train_window, calibration=result.calibration,
        trained_by=trained_by, activate=activate, params={**result.params, "seed": seed}, user=user,
    )
    if activate and not version.is_active:
        request.progress(0.96, f"stored, not activated: {version.gate.get('reason', 'the gate refused it')}")
    if write_scores and version.is_active and spec.score_all is not None:
        request.progress(0.97, "writing customer scores to the graph")
        count = write_scores_to_graph(name=name)
        request.progress(0.99, f"wrote {spec.score_property} for {count} customers")
    request.progress(1.0, f"registered {name} v{version.version}")
    return version


def evaluate_active(*, name: str, data: Path) -> dict[str, Any]:
    """Metrics of the active version of `name` on a labelled file in that model's data-set format, and its
    baseline's on the same rows (each spec's `evaluate` returns them under `baseline`)."""
    spec = get_spec(name)
    if not Path(data).exists():
        raise FileNotFoundError(f"no data file at {data}")
    loaded = registry.load_active(name)
    if loaded is None:
        raise registry.RegistryError(f"model {name!r} has no active version; run `manage.py train {name}` first")
    metrics = dict(spec.evaluate(loaded.model, Path(data)))
    baseline = metrics.pop("baseline", None)
    if baseline is None:
        raise ValueError(f"model {name!r} v{loaded.version.version} keeps no baseline to score beside it; "
                         f"retrain it (`manage.py train {name}`)")
    return {"model": name, "version": loaded.version.version, "data": str(data), "metrics": metrics,
            "baseline": baseline}


def write_scores_to_graph(*, name: str) -> int:
    """Score every customer with the active `name` model and store it as a customer property."""
    spec = get_spec(name)
    if spec.score_all is None or spec.score_property is None:
        raise ValueError(f"model {name!r} does not score customers")
    loaded = registry.load_active(name)
    if loaded is None:
        raise registry.RegistryError(f"model {name!r} has no active version")
    scores = spec.score_all(loaded.model)
    from graph import journeys

    journeys.set_customer_scores({cid: {spec.score_property: value} for cid, value in scores.items()})
    return len(scores)
