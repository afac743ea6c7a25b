"""The activation gate: a version is served only when it beats its baseline on its own holdout.

Pure over a version's stored metrics: the gate metric of the model (AUC for scores, top-1 for
rankings, accuracy for next_event) against the best baseline stored beside it, with the margin set
in the admin (ActivationPolicy). Training, the decision path and the models page all ask here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypeGuard

from apps.propensity.models import ANY_MODEL, DEFAULT_MARGIN, ActivationPolicy


@dataclass(frozen=True)
class Verdict:
    qualifies: bool
    metric: str
    value: float | None
    baseline: str
    baseline_value: float | None
    margin: float
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def margin_for(name: str) -> float:
    """The admin's margin for `name`, else the `*` row's, else the default."""
    rows = dict(ActivationPolicy.objects.filter(model_name__in=[name, ANY_MODEL]).values_list("model_name", "margin"))
    return float(rows.get(name, rows.get(ANY_MODEL, DEFAULT_MARGIN)))


def baselines(baseline_metrics: Mapping[str, Any], metric: str) -> dict[str, float]:
    """Every baseline's value of `metric`: a flat dict is one baseline, a dict of dicts names several."""
    found: dict[str, float] = {}
    flat: Any = baseline_metrics.get(metric)
    if _is_number(flat):
        found[str(baseline_metrics.get("model") or "baseline")] = float(flat)
    for name, inner in baseline_metrics.items():
        if isinstance(inner, Mapping) and _is_number(inner.get(metric)):
            found[str(name)] = float(inner[metric])
    return found


def judge(*, metrics: Mapping[str, Any], baseline_metrics: Mapping[str, Any], metric: str,
          margin: float) -> Verdict:
    """Does the model beat every baseline on `metric` by at least `margin` (and strictly)?"""
    value: Any = metrics.get(metric)
    if not _is_number(value):
        return Verdict(False, metric, None, "", None, margin, f"the version stores no {metric}")
    known = baselines(baseline_metrics, metric)
    if not known:
        return Verdict(False, metric, float(value), "", None, margin, f"no baseline {metric} stored beside it")
    name, best = max(known.items(), key=lambda kv: kv[1])
    gain = float(value) - best
    ok = gain > 0 and gain >= margin - 1e-9  # metrics are stored rounded to 4 places
    verb = "beats" if ok else "does not beat"
    reason = (f"{metric} {float(value):.4f} {verb} the {name} baseline's {best:.4f} by the margin {margin:g} "
              f"(difference {gain:+.4f})")
    return Verdict(ok, metric, float(value), name, best, margin, reason)


def judge_version(version: Any) -> Verdict:
    """The gate applied now (current margin) to a stored version."""
    from apps.propensity.specs import get_spec

    try:
        metric = get_spec(version.name).gate_metric
    except KeyError:
        metric = "auc"
    return judge(metrics=version.metrics or {}, baseline_metrics=version.baseline_metrics or {}, metric=metric,
                 margin=margin_for(version.name))


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
