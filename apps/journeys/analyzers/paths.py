"""Paths around an event of interest, as per-step nodes and links ready for a Sankey diagram.

Each customer is anchored at their first occurrence of the event of interest (or at their first event
when none is given); step 1 is the anchor. With `start_event` steps go forward in time, with
`end_event` they go backward (step 1 is the end event, step 2 what came just before it, ...), so
every node is "how many customers were here at this step" and counts are exact: the link A→B at
step n counts the customers whose journey has A at step n and B at step n+1.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from apps.journeys.analyzers.base import CleaningRule, Encoded, encode

MAX_PATH_STEPS = 20
OTHER = "other"


@dataclass(frozen=True)
class PathNode:
    id: str  # "<step>:<label>", e.g. "2:CC_LC"
    step: int
    label: str
    customers: int
    dropped: int  # customers whose path ends at this node (no step after it within the limit)


@dataclass(frozen=True)
class PathLink:
    source: str
    target: str
    customers: int


@dataclass(frozen=True)
class PathStep:
    step: int
    customers: int
    dropped: int  # customers present at this step and absent at the next
    dropoff_rate: float


@dataclass(frozen=True)
class PathResult:
    direction: str  # "forward" (after start_event, or from journey start) or "backward" (to end_event)
    anchor: str | None
    total_customers: int  # customers in the frame
    anchored_customers: int  # customers whose journey contains the anchor
    nodes: tuple[PathNode, ...]
    links: tuple[PathLink, ...]
    steps: tuple[PathStep, ...]


def paths(frame: pd.DataFrame, *, start_event: str | None = None, end_event: str | None = None,
          steps: int = 5, min_count: int = 1, with_channel: bool = False,
          cleaning_rules: Iterable[CleaningRule | tuple[str, str]] = (),
          collapse_repeats: bool = False) -> PathResult:
    """Per-step customer counts after `start_event` or before `end_event` (one of them, or neither).

    Labels seen by fewer than `min_count` customers at a step are folded into "other" at that step;
    cleaning rules (regex → replacement) run first, so noisy types can be merged before counting."""
    validate(start_event=start_event, end_event=end_event, steps=steps, min_count=min_count)
    enc = encode(frame, with_channel=with_channel, rules=cleaning_rules, collapse_repeats=collapse_repeats)
    anchor = end_event or start_event
    backward = bool(end_event)
    step_of = steps_from_anchor(enc, anchor, backward)
    keep = (step_of >= 0) & (step_of <= steps)  # one step beyond the limit tells who continues
    anchored = int(np.count_nonzero(step_of == 0))
    node_counts, link_counts = _count(enc, step_of, keep, backward)
    return assemble(anchor=anchor, backward=backward, total_customers=enc.n_customers, anchored=anchored,
                    node_counts=node_counts, link_counts=link_counts, min_count=min_count, steps=steps)


def validate(*, start_event: str | None, end_event: str | None, steps: int, min_count: int) -> None:
    if start_event and end_event:
        raise ValueError("give start_event or end_event, not both")
    if not 1 <= steps <= MAX_PATH_STEPS:
        raise ValueError(f"steps must be between 1 and {MAX_PATH_STEPS}, got {steps}")
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")


def assemble(*, anchor: str | None, backward: bool, total_customers: int, anchored: int,
             node_counts: dict[tuple[int, str], int], link_counts: dict[tuple[int, str, str], int],
             min_count: int, steps: int) -> PathResult:
    """The result from customers per (step, label) and per (step, label, label at the next step):
    steps are 0-based from the anchor and counted up to `steps` (one beyond the shown ones). Shared
    by this analyzer and the analytics engine, so both fold and order the same way."""
    nodes, links = _fold(node_counts, link_counts, min_count, backward, steps)
    return PathResult(direction="backward" if backward else "forward", anchor=anchor,
                      total_customers=total_customers, anchored_customers=anchored,
                      nodes=nodes, links=links, steps=_per_step(nodes, steps))


def steps_from_anchor(enc: Encoded, anchor: str | None, backward: bool) -> np.ndarray:
    """Step index (0 = anchor) of every row, -1 for rows before the anchor (after it when backward)."""
    n = len(enc.cust)
    if anchor is None:
        return enc.pos.copy()
    anchor_pos = np.full(enc.n_customers, -1, dtype=np.int64)
    code = enc.code_of(anchor)
    if code >= 0:
        rows = np.flatnonzero(enc.tok == code)
        first_cust, first_idx = np.unique(enc.cust[rows], return_index=True)
        anchor_pos[first_cust] = enc.pos[rows[first_idx]]
    has_anchor = anchor_pos[enc.cust] >= 0
    rel = anchor_pos[enc.cust] - enc.pos if backward else enc.pos - anchor_pos[enc.cust]
    return np.where(has_anchor & (rel >= 0), rel, -1) if n else rel


def _count(enc: Encoded, step_of: np.ndarray, keep: np.ndarray, backward: bool
           ) -> tuple[dict[tuple[int, str], int], dict[tuple[int, str, str], int]]:
    """Customers per (step, token) and per (step, token, next-step token). One row per customer and
    step, so row counts are unique-customer counts."""
    n_labels = max(len(enc.labels), 1)
    steps, toks = step_of[keep], enc.tok[keep]
    node_codes, node_n = np.unique(steps * n_labels + toks, return_counts=True)
    lab = enc.labels
    nodes = {(int(c // n_labels), str(lab[c % n_labels])): int(k) for c, k in zip(node_codes, node_n, strict=True)}
    # consecutive rows of one customer are consecutive steps (forward) or reversed steps (backward)
    a, b = (slice(1, None), slice(None, -1)) if backward else (slice(None, -1), slice(1, None))
    same = (enc.cust[1:] == enc.cust[:-1]) & keep[1:] & keep[:-1]
    first_step = step_of[a][same]
    codes = (first_step * n_labels + enc.tok[a][same]) * n_labels + enc.tok[b][same]
    link_codes, link_n = np.unique(codes, return_counts=True)
    links = {(int(c // (n_labels * n_labels)), str(lab[c // n_labels % n_labels]), str(lab[c % n_labels])): int(k)
             for c, k in zip(link_codes, link_n, strict=True)}
    return nodes, links


def _fold(node_counts: dict[tuple[int, str], int], link_counts: dict[tuple[int, str, str], int],
          min_count: int, backward: bool, steps: int) -> tuple[tuple[PathNode, ...], tuple[PathLink, ...]]:
    def label(step: int, tok: str) -> str:
        return tok if node_counts[(step, tok)] >= min_count else OTHER

    nodes: dict[tuple[int, str], int] = {}
    for (step, tok), count in node_counts.items():
        key = (step, label(step, tok))
        nodes[key] = nodes.get(key, 0) + count
    links: dict[tuple[int, str, str], int] = {}
    for (step, tok_a, tok_b), count in link_counts.items():
        link_key = (step, label(step, tok_a), label(step + 1, tok_b))
        links[link_key] = links.get(link_key, 0) + count
    out_of: dict[tuple[int, str], int] = {}
    for (step, la, _), count in links.items():
        out_of[(step, la)] = out_of.get((step, la), 0) + count
    node_list = tuple(
        PathNode(id=_node_id(step, lab), step=step + 1, label=lab, customers=count,
                 dropped=count - out_of.get((step, lab), 0))
        for (step, lab), count in sorted(nodes.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))
        if step < steps)
    link_list = tuple(
        _link(step, la, lb, count, backward)
        for (step, la, lb), count in sorted(links.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1], kv[0][2]))
        if step < steps - 1)
    return node_list, link_list


def _node_id(step: int, label: str) -> str:
    return f"{step + 1}:{label}"


def _link(step: int, la: str, lb: str, count: int, backward: bool) -> PathLink:
    """Links always point forward in time: backward paths run from step n+1 (earlier) to step n."""
    if backward:
        return PathLink(source=_node_id(step + 1, lb), target=_node_id(step, la), customers=count)
    return PathLink(source=_node_id(step, la), target=_node_id(step + 1, lb), customers=count)


def _per_step(nodes: tuple[PathNode, ...], steps: int) -> tuple[PathStep, ...]:
    out = []
    for step in range(1, steps + 1):
        count = sum(n.customers for n in nodes if n.step == step)
        dropped = sum(n.dropped for n in nodes if n.step == step)
        out.append(PathStep(step=step, customers=count, dropped=dropped,
                            dropoff_rate=round(dropped / count, 6) if count else 0.0))
    return tuple(out)
