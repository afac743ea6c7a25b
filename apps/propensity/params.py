"""The training parameters a caller may set, with their types and ranges.

Training options reach LightGBM, the GRU and the label builders as they are given, and some LightGBM
options write files or change the process (`output_model`, `num_threads`, `device_type`), so a train
request names only parameters from this list: LightGBM's tuning (the next-touchpoint ranking's with
`next_`), the GRU's with `gru_`, and the label settings of churn, CSAT and intent.
"""
from __future__ import annotations

from typing import Any

Range = tuple[type, float, float]

_BOOSTING: dict[str, Range] = {
    "num_leaves": (int, 2, 1024), "learning_rate": (float, 1e-4, 1.0), "rounds": (int, 1, 10_000),
    "feature_fraction": (float, 0.05, 1.0), "bagging_fraction": (float, 0.05, 1.0), "bagging_freq": (int, 0, 100),
    "lambda_l1": (float, 0.0, 1e4), "lambda_l2": (float, 0.0, 1e4), "min_data_in_leaf": (int, 1, 100_000),
    "max_depth": (int, -1, 64), "min_gain_to_split": (float, 0.0, 1e3), "max_bin": (int, 4, 1024),
}
_GRU: dict[str, Range] = {
    "embedding": (int, 1, 512), "hidden": (int, 1, 1024), "dropout": (float, 0.0, 0.9),
    "next_weight": (float, 0.0, 100.0), "learning_rate": (float, 1e-6, 1.0), "weight_decay": (float, 0.0, 1.0),
    "batch_size": (int, 1, 8192), "max_epochs": (int, 1, 500), "patience": (int, 1, 100), "max_steps": (int, 1, 500),
}
_LABELS: dict[str, Range] = {
    "churn_days": (int, 1, 3650), "cutoffs": (int, 1, 100), "low_score": (int, 0, 10),
    "order": (int, 1, 10), "strength": (float, 0.0, 1000.0),
}
ALLOWED: dict[str, Range] = {**_BOOSTING, **{f"next_{k}": v for k, v in _BOOSTING.items()},
                             **{f"gru_{k}": v for k, v in _GRU.items()}, **_LABELS}


class ParamError(ValueError):
    """A parameter that is not on the list, or a value of the wrong type or out of range."""


def validate_params(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters as numbers of their declared type; the first problem found is raised."""
    clean: dict[str, Any] = {}
    for key, value in params.items():
        if key not in ALLOWED:
            raise ParamError(f"unknown training parameter {key!r}; allowed: {', '.join(sorted(ALLOWED))}")
        kind, low, high = ALLOWED[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and value != int(value)):
            raise ParamError(f"training parameter {key!r} must be {'an integer' if kind is int else 'a number'}, "
                             f"got {value!r}")
        if not low <= value <= high:
            raise ParamError(f"training parameter {key!r} must be between {low:g} and {high:g}, got {value!r}")
        clean[key] = kind(value)
    return clean
