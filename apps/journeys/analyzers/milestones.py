"""Milestone triggers: when (at which event) each customer first satisfied a trigger.

Three trigger kinds: an event type; a sequence of types in order (not necessarily adjacent) that
completes within a window; an attribute condition on an event. The answer is the first event that
satisfies the trigger, because a customer reaches a milestone once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from apps.journeys.analyzers.base import journey_order

COLUMN_ATTRIBUTES = ("type", "channel", "intent", "outcome")
NUMERIC_OPS = {"gt": float.__gt__, "gte": float.__ge__, "lt": float.__lt__, "lte": float.__le__}


@dataclass(frozen=True)
class Trigger:
    kind: str  # "event_type", "sequence" or "attribute"
    event_type: str = ""
    sequence: tuple[str, ...] = ()
    window_ms: int | None = None
    attribute: str = ""
    op: str = ""
    value: str = ""


@dataclass(frozen=True)
class Reach:
    customer_id: str
    ts: int
    event_id: str


def first_reaches(frame: pd.DataFrame, trigger: Trigger) -> dict[str, Reach]:
    """The first event at which each customer satisfied the trigger (customers who never did are absent)."""
    frame = journey_order(frame)
    if frame.empty:
        return {}
    if trigger.kind == "event_type":
        hits = frame[frame["type"] == trigger.event_type]
    elif trigger.kind == "attribute":
        hits = frame[[_attribute_matches(row, trigger) for row in frame.itertuples(index=False)]]
    elif trigger.kind == "sequence":
        return _sequence_reaches(frame, trigger)
    else:
        raise ValueError(f"unknown trigger kind {trigger.kind!r} (event_type, sequence, attribute)")
    first = hits.drop_duplicates("customer_id", keep="first")
    return {c: Reach(c, int(t), str(e)) for c, t, e in zip(first["customer_id"], first["ts"], first["event_id"],
                                                          strict=True)}


def _attribute_matches(row: Any, trigger: Trigger) -> bool:
    if trigger.attribute in COLUMN_ATTRIBUTES:
        actual = getattr(row, trigger.attribute)
    else:
        attributes = row.attributes if isinstance(row.attributes, dict) else {}
        actual = attributes.get(trigger.attribute)
    return compare(actual, trigger.op, trigger.value)


def compare(actual: Any, op: str, expected: str) -> bool:
    """Attribute comparison: eq/ne/contains as text, gt/gte/lt/lte as numbers, exists as presence."""
    if op == "exists":
        return actual is not None and actual == actual  # NaN counts as absent
    if actual is None:
        return False
    if op == "eq":
        return str(actual) == expected
    if op == "ne":
        return str(actual) != expected
    if op == "contains":
        return expected in str(actual)
    if op in NUMERIC_OPS:
        try:
            return bool(NUMERIC_OPS[op](float(actual), float(expected)))
        except (TypeError, ValueError):
            return False
    raise ValueError(f"unknown attribute operator {op!r} (eq, ne, gt, gte, lt, lte, contains, exists)")


def _sequence_reaches(frame: pd.DataFrame, trigger: Trigger) -> dict[str, Reach]:
    """Every occurrence of the first type is a candidate start; from each, the earliest next type after
    the previous match (found with searchsorted, all starts at once) gives its earliest completion, and
    a customer's reach is the earliest completion within the window over all of their starts."""
    types = frame["type"].to_numpy(dtype=object)
    cust = frame["customer_id"].to_numpy(dtype=object)
    ts = frame["ts"].to_numpy(dtype=np.int64)
    starts = np.flatnonzero(types == trigger.sequence[0])
    current = starts.copy()
    for kind in trigger.sequence[1:]:
        rows = np.flatnonzero(types == kind)
        if not len(rows):
            return {}
        at = np.searchsorted(rows, current, side="right")
        ok = at < len(rows)
        nxt = rows[np.minimum(at, len(rows) - 1)]
        ok &= cust[nxt] == cust[starts]
        if trigger.window_ms is not None:
            ok &= ts[nxt] - ts[starts] <= trigger.window_ms
        starts, current = starts[ok], nxt[ok]
    done = np.unique(current)  # rows in journey order: the first completion row of a customer comes first
    out: dict[str, Reach] = {}
    event_ids = frame["event_id"].to_numpy(dtype=object)
    for row in done:
        customer = str(cust[row])
        if customer not in out:
            out[customer] = Reach(customer, int(ts[row]), str(event_ids[row]))
    return out
