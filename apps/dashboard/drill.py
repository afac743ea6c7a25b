"""Who is behind a node or a link of the path Sankey: the drill-down the explorer's clicks ask for.

Works on the same events frame and the same step rule as the path analyzer (each customer anchored at
their first occurrence of the event of interest, or at their first event; step 1 is the anchor), so a
node showing N customers lists exactly N customers. Labels folded into "other" below `min_count` are
matched the same way.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd

from apps.journeys.analyzers.base import encode

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


def step_labels(frame: pd.DataFrame, *, anchor: str | None, backward: bool, steps: int, with_channel: bool,
                collapse_repeats: bool) -> dict[str, list[str]]:
    """Each anchored customer's labels at steps 1..steps (index 0 is step 1)."""
    enc = encode(frame, with_channel=with_channel, collapse_repeats=collapse_repeats)
    journeys: dict[str, list[str]] = {}
    for code, tok in zip(enc.cust.tolist(), enc.tok.tolist(), strict=True):
        journeys.setdefault(str(enc.customers[code]), []).append(str(enc.labels[tok]))
    out = {}
    for customer, labels in journeys.items():
        if anchor is None:
            seq = labels
        elif anchor in labels:
            at = labels.index(anchor)
            seq = labels[at::-1] if backward else labels[at:]
        else:
            continue
        out[customer] = seq[:steps]
    return out


def _folded(by_customer: dict[str, list[str]], min_count: int) -> dict[str, list[str]]:
    if min_count <= 1:
        return by_customer
    counts: Counter[tuple[int, str]] = Counter((i, lab) for seq in by_customer.values() for i, lab in enumerate(seq))
    return {c: [lab if counts[(i, lab)] >= min_count else OTHER for i, lab in enumerate(seq)]
            for c, seq in by_customer.items()}


def customers_at(frame: pd.DataFrame, *, nodes: list[NodeRef], anchor: str | None = None, backward: bool = False,
                 steps: int = 5, min_count: int = 1, with_channel: bool = False,
                 collapse_repeats: bool = False) -> list[str]:
    """Customers found at every one of `nodes` (one node, or the two ends of a link), sorted by id."""
    by_customer = _folded(step_labels(frame, anchor=anchor, backward=backward, steps=steps,
                                      with_channel=with_channel, collapse_repeats=collapse_repeats), min_count)
    return sorted(c for c, seq in by_customer.items()
                  if all(len(seq) >= n.step and seq[n.step - 1] == n.label for n in nodes))
