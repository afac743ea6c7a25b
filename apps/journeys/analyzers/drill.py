"""Who is behind a node or a link of a path analysis: the drill-down a Sankey's clicks ask for.

Works on the same events frame and the same step rule as the path analyzer (each customer anchored at
their first occurrence of the event of interest, or at their first event; step 1 is the anchor), so a
node showing N customers lists exactly N customers. Labels folded into "other" below `min_count` are
matched the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from apps.journeys.analyzers.base import encode
from apps.journeys.analyzers.paths import steps_from_anchor

OTHER = "other"


@dataclass(frozen=True)
class NodeRef:
    step: int
    label: str

    @classmethod
    def parse(cls, text: str) -> NodeRef:
        step, sep, label = text.partition(":")
        if not sep or not step.isdigit() or not label:
            raise ValueError(f"node {text!r} must look like <step>:<event>, e.g. 2:app_login")
        return cls(int(step), label)


def _row_labels(enc: Any, step_of: np.ndarray, keep: np.ndarray, min_count: int) -> np.ndarray:
    """Each row's label, or "other" where fewer than `min_count` customers had it at that step."""
    labels = enc.labels[enc.tok]
    if min_count <= 1 or not keep.any():
        return labels
    width = max(len(enc.labels), 1)
    pair = step_of * width + enc.tok
    codes, counts = np.unique(pair[keep], return_counts=True)
    rare = np.isin(pair, codes[counts < min_count]) & keep
    return np.where(rare, OTHER, labels)


def customers_at(frame: pd.DataFrame, *, nodes: list[NodeRef], anchor: str | None = None, backward: bool = False,
                 steps: int = 5, min_count: int = 1, with_channel: bool = False,
                 collapse_repeats: bool = False) -> list[str]:
    """Customers found at every one of `nodes` (one node, or the two ends of a link), sorted by id."""
    enc = encode(frame, with_channel=with_channel, collapse_repeats=collapse_repeats)
    step_of = steps_from_anchor(enc, anchor, backward)
    keep = (step_of >= 0) & (step_of < steps)
    labels = _row_labels(enc, step_of, keep, min_count)
    found: set[int] | None = None
    for ref in nodes:
        here = set(enc.cust[keep & (step_of == ref.step - 1) & (labels == ref.label)].tolist())
        found = here if found is None else found & here
    return sorted(str(enc.customers[c]) for c in (found or set()))
