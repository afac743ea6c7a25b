"""Milestone triggers: when (at which event) each customer first satisfied a trigger.

Three trigger kinds: an event type; a sequence of types in order (not necessarily adjacent) that
completes within a window; an attribute condition on an event. The answer is the first event that
satisfies the trigger, because a customer reaches a milestone once.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
    wanted = set(trigger.sequence)
    relevant = frame[frame["type"].isin(wanted)]
    out: dict[str, Reach] = {}
    for customer, group in relevant.groupby("customer_id", sort=True):
        found = _complete(group["type"].tolist(), group["ts"].tolist(), trigger.sequence, trigger.window_ms)
        if found is not None:
            out[str(customer)] = Reach(str(customer), int(group["ts"].iat[found]), str(group["event_id"].iat[found]))
    return out


def _complete(types: Sequence[str], ts: Sequence[int], sequence: Sequence[str], window_ms: int | None) -> int | None:
    """Index of the event that first completes `sequence` in order within the window. Partial matches are
    kept as progress → latest start (a later start with equal progress has more window left)."""
    progress: dict[int, int] = {}
    last = len(sequence) - 1
    for i, (kind, at) in enumerate(zip(types, ts, strict=True)):
        if window_ms is not None:
            progress = {p: start for p, start in progress.items() if at - start <= window_ms}
        for done, start in sorted(progress.items(), reverse=True):
            if sequence[done] == kind:
                if done == last:
                    return i
                progress[done + 1] = max(progress.get(done + 1, start), start)
        if sequence[0] == kind:
            if last == 0:
                return i
            progress[1] = at
    return None
