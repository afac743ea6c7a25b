"""Frequency analyzers: the most frequent journeys and the directly-follows counts of the whole log.

Counting runs on integer codes with numpy (unique rows, lexsort + bincount) because that is what
keeps a million events around a second; only the winning rows are turned back into labels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from apps.journeys.analyzers.base import Encoded, encode

MAX_STEPS = 20


@dataclass(frozen=True)
class JourneyCount:
    """One journey (its first steps) and how many customers followed it."""

    steps: tuple[str, ...]
    customers: int
    share: float  # of all customers in the frame
    median_duration_ms: float  # first to last of these steps, over the customers that followed it


@dataclass(frozen=True)
class TopJourneys:
    total_customers: int
    max_steps: int
    journeys: tuple[JourneyCount, ...]


@dataclass(frozen=True)
class DirectlyFollows:
    """Directly-follows counts: how often event a is immediately followed by b in a customer's journey,
    plus how many journeys start and end with each label (the same triple as a process-mining DFG)."""

    edges: dict[tuple[str, str], int]
    start: dict[str, int]
    end: dict[str, int]


def top_journeys(frame: pd.DataFrame, *, max_steps: int = 5, with_channel: bool = False,
                 limit: int = 20) -> TopJourneys:
    """Rank journeys by unique customers. A customer's journey is their first `max_steps` events
    (all of them when they have fewer), so every customer counts towards exactly one journey."""
    if not 1 <= max_steps <= MAX_STEPS:
        raise ValueError(f"max_steps must be between 1 and {MAX_STEPS}, got {max_steps}")
    enc = encode(frame, with_channel=with_channel)
    if enc.n_customers == 0:
        return TopJourneys(total_customers=0, max_steps=max_steps, journeys=())
    matrix, duration = _prefix_matrix(enc, max_steps)
    rows, inverse, counts = _unique_rows(matrix, len(enc.labels))
    order = np.lexsort((np.arange(len(counts)), -counts))[:limit]
    medians = pd.Series(duration).groupby(inverse).median()
    total = enc.n_customers
    journeys = tuple(
        JourneyCount(steps=tuple(str(enc.labels[c]) for c in rows[i] if c >= 0), customers=int(counts[i]),
                     share=round(float(counts[i]) / total, 6), median_duration_ms=float(medians.loc[i]))
        for i in order)
    return TopJourneys(total_customers=total, max_steps=max_steps, journeys=_tie_break(journeys))


def _unique_rows(matrix: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.unique over rows; packs each row into one integer when it fits (much faster than axis=0)."""
    base = n_labels + 1
    if matrix.shape[1] * np.log2(base) < 62:
        weights = base ** np.arange(matrix.shape[1] - 1, -1, -1, dtype=np.int64)
        keys = (matrix + 1) @ weights
        _, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
        return matrix[first], inverse.reshape(-1), counts
    rows, inverse, counts = np.unique(matrix, axis=0, return_inverse=True, return_counts=True)
    return rows, inverse.reshape(-1), counts


def _tie_break(journeys: tuple[JourneyCount, ...]) -> tuple[JourneyCount, ...]:
    """Equal counts are ordered by their steps, so answers do not depend on code assignment."""
    return tuple(sorted(journeys, key=lambda j: (-j.customers, j.steps)))


def _prefix_matrix(enc: Encoded, max_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """One row per customer: token codes of the first steps (-1 pads), and first-to-last duration."""
    keep = enc.pos < max_steps
    cust, pos, tok, ts = enc.cust[keep], enc.pos[keep], enc.tok[keep], enc.ts[keep]
    matrix = np.full((enc.n_customers, max_steps), -1, dtype=np.int64)
    matrix[cust, pos] = tok
    first = np.zeros(enc.n_customers, dtype=np.int64)
    last = np.zeros(enc.n_customers, dtype=np.int64)
    first[cust[pos == 0]] = ts[pos == 0]
    last[cust] = ts  # rows are in journey order, so the last write is the last kept step
    return matrix, (last - first)


def directly_follows(frame: pd.DataFrame, *, with_channel: bool = False) -> DirectlyFollows:
    """Count (a, b) pairs of consecutive events of the same customer over the whole log."""
    enc = encode(frame, with_channel=with_channel)
    n_labels = len(enc.labels)
    if len(enc.cust) == 0:
        return DirectlyFollows(edges={}, start={}, end={})
    same = enc.cust[1:] == enc.cust[:-1]
    pair_codes = enc.tok[:-1][same] * n_labels + enc.tok[1:][same]
    pair_counts = np.bincount(pair_codes, minlength=n_labels * n_labels)
    nonzero = np.flatnonzero(pair_counts)
    edges = {(str(enc.labels[c // n_labels]), str(enc.labels[c % n_labels])): int(pair_counts[c]) for c in nonzero}
    is_start = enc.pos == 0
    is_end = np.ones(len(enc.cust), dtype=bool)
    is_end[:-1] = ~same
    return DirectlyFollows(edges=edges, start=_label_counts(enc, enc.tok[is_start]),
                           end=_label_counts(enc, enc.tok[is_end]))


def _label_counts(enc: Encoded, codes: np.ndarray) -> dict[str, int]:
    counts = np.bincount(codes, minlength=len(enc.labels))
    return {str(enc.labels[c]): int(counts[c]) for c in np.flatnonzero(counts)}
