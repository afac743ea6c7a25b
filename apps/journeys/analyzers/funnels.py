"""Funnels: ordered steps within a conversion window, with drop-off, timing, channel breakdown and
the customers at any step.

A customer enters at their first event of step 1; each later step is matched by the earliest event
of that type after the previous step's event (greedy matching is optimal for a fixed entry), and
only within `window_ms` of the entry. Matching is vectorised one step at a time over all customers.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from apps.journeys.analyzers.base import Encoded, encode

MAX_FUNNEL_STEPS = 20


@dataclass(frozen=True)
class FunnelStep:
    step: int
    event: str
    customers: int
    conversion_from_start: float
    conversion_from_previous: float
    dropped: int  # customers who reached this step but not the next
    median_ms_from_previous: float | None


@dataclass(frozen=True)
class FunnelResult:
    events: tuple[str, ...]
    window_ms: int | None
    steps: tuple[FunnelStep, ...]
    by_channel: dict[str, tuple[FunnelStep, ...]]  # channel of the entry (step 1) event

    @property
    def conversion(self) -> float:
        return self.steps[-1].conversion_from_start if self.steps else 0.0


@dataclass(frozen=True)
class _Match:
    """Row index of the event matched at each step, per customer (-1: step not reached)."""

    enc: Encoded
    rows: np.ndarray  # shape (n_steps, n_customers)


def validate(events: Sequence[str], window_ms: int | None) -> None:
    if not 1 <= len(events) <= MAX_FUNNEL_STEPS:
        raise ValueError(f"a funnel needs between 1 and {MAX_FUNNEL_STEPS} steps, got {len(events)}")
    if window_ms is not None and window_ms <= 0:
        raise ValueError(f"window_ms must be positive, got {window_ms}")


def _match(frame: pd.DataFrame, events: Sequence[str], window_ms: int | None) -> _Match:
    validate(events, window_ms)
    enc = encode(frame)
    n_cust = enc.n_customers
    rows = np.full((len(events), n_cust), -1, dtype=np.int64)
    entry_ts = np.zeros(n_cust, dtype=np.int64)
    for i, event in enumerate(events):
        code = enc.code_of(event)
        candidates = np.flatnonzero(enc.tok == code) if code >= 0 else np.zeros(0, dtype=np.int64)
        cust = enc.cust[candidates]
        if i > 0:
            prev = rows[i - 1][cust]
            ok = (prev >= 0) & (candidates > prev)
            if window_ms is not None:
                ok &= enc.ts[candidates] - entry_ts[cust] <= window_ms
            candidates, cust = candidates[ok], cust[ok]
        first_cust, first = np.unique(cust, return_index=True)  # rows are in journey order
        rows[i][first_cust] = candidates[first]
        if i == 0:
            entry_ts[first_cust] = enc.ts[candidates[first]]
    return _Match(enc=enc, rows=rows)


def funnel(frame: pd.DataFrame, *, events: Sequence[str], window_ms: int | None = None,
           by_channel: bool = False) -> FunnelResult:
    """Conversion and drop-off per step; with `by_channel` also per channel of the entry event."""
    match = _match(frame, events, window_ms)
    steps = _steps(match, events, np.ones(match.enc.n_customers, dtype=bool))
    breakdown: dict[str, tuple[FunnelStep, ...]] = {}
    if by_channel:
        entered = match.rows[0] >= 0
        entry_channel = np.full(match.enc.n_customers, "", dtype=object)
        entry_channel[entered] = match.enc.channel[match.rows[0][entered]]
        for channel in sorted(set(entry_channel[entered])):
            breakdown[str(channel)] = _steps(match, events, entry_channel == channel)
    return FunnelResult(events=tuple(events), window_ms=window_ms, steps=steps, by_channel=breakdown)


def _steps(match: _Match, events: Sequence[str], among: np.ndarray) -> tuple[FunnelStep, ...]:
    reached = [(r >= 0) & among for r in match.rows]
    counts = [int(np.count_nonzero(r)) for r in reached]
    medians: list[float | None] = [None]
    ts = match.enc.ts
    for i in range(1, len(events)):
        gaps = ts[match.rows[i][reached[i]]] - ts[match.rows[i - 1][reached[i]]]
        medians.append(float(np.median(gaps)) if counts[i] else None)
    return steps_of(events, counts, medians)


def steps_of(events: Sequence[str], counts: Sequence[int], medians: Sequence[float | None]
             ) -> tuple[FunnelStep, ...]:
    """Steps from customers reaching each step and the median time from the step before: shared by
    this analyzer and the analytics engine, so rates round the same way."""
    out = []
    for i, event in enumerate(events):
        start, prev = counts[0], counts[i - 1] if i else counts[0]
        nxt = counts[i + 1] if i + 1 < len(events) else counts[i]
        median = medians[i] if i and counts[i] else None
        out.append(FunnelStep(step=i + 1, event=event, customers=counts[i],
                              conversion_from_start=round(counts[i] / start, 6) if start else 0.0,
                              conversion_from_previous=round(counts[i] / prev, 6) if prev else 0.0,
                              dropped=counts[i] - nxt, median_ms_from_previous=median))
    return tuple(out)


def funnel_customers(frame: pd.DataFrame, *, events: Sequence[str], step: int, window_ms: int | None = None,
                     dropped: bool = False, channel: str | None = None) -> list[str]:
    """Drill-down: the customers who reached `step` (1-based), or with `dropped` those who reached it
    and not the next, optionally only those who entered through `channel`. Sorted by customer id."""
    if not 1 <= step <= len(events):
        raise ValueError(f"step must be between 1 and {len(events)}, got {step}")
    match = _match(frame, events, window_ms)
    selected = match.rows[step - 1] >= 0
    if dropped and step < len(events):
        selected &= match.rows[step] < 0
    if channel is not None:
        entered = match.rows[0] >= 0
        on_channel = np.zeros(match.enc.n_customers, dtype=bool)
        on_channel[entered] = match.enc.channel[match.rows[0][entered]] == channel
        selected &= on_channel
    return [str(c) for c in match.enc.customers[selected]]
