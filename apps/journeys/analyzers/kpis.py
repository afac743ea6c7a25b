"""Contact-centre KPIs per day or week, overall and by channel and segment.

Every KPI is a ratio numerator / denominator so stored values can be re-aggregated and explained.
Each kind first turns the events into observations (one row per event that matters, with the
numerator and denominator it contributes); one aggregator then groups them by period and dimension.
Look-back KPIs (repeat contact, resolution episodes) need events before the first reported period:
pass the longer frame and `since_ms` to report only from there on.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from apps.journeys.analyzers.base import journey_order, runs

DAY_MS = 86_400_000
KINDS = ("contacts_per_customer", "repeat_contact", "channel_switches", "time_to_resolution",
         "milestone_conversion", "abandonment")
DISTINCT = {  # (numerator counts distinct customers, denominator counts distinct customers)
    "contacts_per_customer": (False, True), "repeat_contact": (False, False), "channel_switches": (False, False),
    "time_to_resolution": (False, False), "milestone_conversion": (True, True), "abandonment": (False, False),
}


@dataclass(frozen=True)
class KpiParams:
    """Knobs of a KPI definition (stored as JSON on the definition)."""

    event_types: tuple[str, ...] = ()  # which events count as contacts; empty: all
    window_days: int = 7  # repeat-contact window; look-back for resolution episodes
    resolved_outcomes: tuple[str, ...] = ("resolved",)
    resolution_types: tuple[str, ...] = ()
    abandoned_outcomes: tuple[str, ...] = ("abandoned",)
    reached_ms: Mapping[str, int] = field(default_factory=dict)  # milestone reach time per customer

    @classmethod
    def from_json(cls, data: Mapping[str, Any], reached_ms: Mapping[str, int] | None = None) -> KpiParams:
        known = {"event_types", "window_days", "resolved_outcomes", "resolution_types", "abandoned_outcomes"}
        unknown = set(data) - known - {"milestone"}
        if unknown:
            raise ValueError(f"unknown KPI parameter(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(sorted(known))}")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        return cls(**values, reached_ms=reached_ms or {})


@dataclass(frozen=True)
class KpiPoint:
    period_start: date
    dimension: str  # "all", "channel" or "segment"
    dimension_value: str  # "" for "all"
    value: float
    numerator: float
    denominator: float


def period_start(ts_ms: np.ndarray, period: str) -> np.ndarray:
    """UTC day, or the Monday of the ISO week, of each timestamp, as epoch-day numbers."""
    days = np.floor_divide(ts_ms, DAY_MS)
    if period == "day":
        return days
    if period == "week":
        return days - (days + 3) % 7  # 1970-01-01 was a Thursday
    raise ValueError(f"period must be 'day' or 'week', got {period!r}")


def compute_kpi(frame: pd.DataFrame, *, kind: str, params: KpiParams = KpiParams(), period: str = "day",
                segments: Mapping[str, str] | None = None, since_ms: int | None = None) -> tuple[KpiPoint, ...]:
    """Values of one KPI kind for every period with data, overall, per channel and per segment."""
    if kind not in KINDS:
        raise ValueError(f"unknown KPI kind {kind!r}; known: {', '.join(KINDS)}")
    frame = journey_order(frame)
    if params.event_types:
        frame = frame[frame["type"].isin(params.event_types)].reset_index(drop=True)
    obs = _OBSERVERS[kind](frame, params)
    if since_ms is not None:
        obs = obs[obs["ts"] >= since_ms]
    if obs.empty:
        return ()
    obs = obs.assign(period=period_start(obs["ts"].to_numpy(dtype=np.int64), period))
    if "reached_ms" in obs.columns:
        obs["num"] = _reached_in_period(obs["reached_ms"].to_numpy(dtype=float), obs["period"].to_numpy(), period)
    coded, labels = _coded(obs, segments)
    points: list[KpiPoint] = []
    for dimension in ("all", "channel", "segment"):
        if dimension == "segment" and not segments:
            continue
        points.extend(_aggregate(coded, dimension, labels[dimension], DISTINCT[kind]))
    return tuple(sorted(points, key=lambda p: (p.period_start, p.dimension, p.dimension_value)))


def _coded(obs: pd.DataFrame, segments: Mapping[str, str] | None) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Integer codes for customers, channels and segments: grouping on ints is what keeps a million
    observations fast. Segments are looked up once per distinct customer."""
    cust, customers = runs(obs["customer_id"].to_numpy(dtype=object))  # observations stay in journey order
    channel, channels = pd.factorize(obs["channel"].astype(object).where(obs["channel"].notna(), ""))
    mapped = pd.Series(customers, dtype=object).map(segments or {}).astype(object)
    seg_of_customer = mapped.where(mapped.notna(), "").to_numpy(dtype=object)
    segment, segment_labels = pd.factorize(seg_of_customer[cust] if len(cust) else np.zeros(0, dtype=object))
    coded = pd.DataFrame({"period": obs["period"].to_numpy(), "cust": cust, "channel": channel,
                          "segment": segment, "all": np.zeros(len(obs), dtype=np.int64),
                          "num": obs["num"].to_numpy(dtype=float), "den": obs["den"].to_numpy(dtype=float)})
    labels = {"all": np.array([""], dtype=object), "channel": np.asarray(channels, dtype=object),
              "segment": np.asarray(segment_labels, dtype=object)}
    return coded, labels


def _reached_in_period(reached: np.ndarray, periods: np.ndarray, period: str) -> np.ndarray:
    has = ~np.isnan(reached)
    reach_period = np.full(len(reached), np.iinfo(np.int64).min, dtype=np.int64)
    reach_period[has] = period_start(reached[has].astype(np.int64), period)
    return (has & (reach_period == periods)).astype(float)


def _distinct_customers(coded: pd.DataFrame, column: str, dimension: str) -> pd.Series:
    rows = coded.loc[coded[column] > 0, ["period", dimension, "cust"]].drop_duplicates()
    return rows.groupby(["period", dimension]).size().astype(float)


def _aggregate(coded: pd.DataFrame, dimension: str, labels: np.ndarray, distinct: tuple[bool, bool]
               ) -> Iterable[KpiPoint]:
    grouped = coded.groupby(["period", dimension], sort=True)
    num = _distinct_customers(coded, "num", dimension) if distinct[0] else grouped["num"].sum()
    den = _distinct_customers(coded, "den", dimension) if distinct[1] else grouped["den"].sum()
    table = pd.concat({"num": num, "den": den}, axis=1).fillna(0.0)
    table = table[table["den"] > 0]
    epoch = date(1970, 1, 1).toordinal()
    for (day, code), n, d in zip(table.index, table["num"].to_numpy(), table["den"].to_numpy(), strict=True):
        yield KpiPoint(period_start=date.fromordinal(epoch + int(day)), dimension=dimension,
                       dimension_value=str(labels[int(code)]), value=round(float(n) / float(d), 6),
                       numerator=float(n), denominator=float(d))


def _base(frame: pd.DataFrame, num: Any, den: Any) -> pd.DataFrame:
    return pd.DataFrame({"ts": frame["ts"].to_numpy(dtype=np.int64), "channel": frame["channel"].to_numpy(),
                         "customer_id": frame["customer_id"].to_numpy(), "num": num, "den": den})


def _contacts(frame: pd.DataFrame, params: KpiParams) -> pd.DataFrame:
    return _base(frame, 1.0, 1.0)


def _repeat(frame: pd.DataFrame, params: KpiParams) -> pd.DataFrame:
    """A contact is a repeat when the same customer had a contact within `window_days` before it."""
    cust = frame["customer_id"].to_numpy()
    ts = frame["ts"].to_numpy(dtype=np.int64)
    repeat = np.zeros(len(frame))
    if len(frame) > 1:
        same = cust[1:] == cust[:-1]
        repeat[1:] = same & (ts[1:] - ts[:-1] <= params.window_days * DAY_MS)
    return _base(frame, repeat, 1.0)


def _abandonment(frame: pd.DataFrame, params: KpiParams) -> pd.DataFrame:
    return _base(frame, frame["outcome"].isin(params.abandoned_outcomes).to_numpy(dtype=float), 1.0)


def _is_resolution(frame: pd.DataFrame, params: KpiParams) -> np.ndarray:
    return (frame["outcome"].isin(params.resolved_outcomes) | frame["type"].isin(params.resolution_types)).to_numpy()


def _episodes(frame: pd.DataFrame, params: KpiParams) -> pd.DataFrame:
    """One row per resolution: channel switches and time since the episode's first contact. An
    episode is the customer's contacts after their previous resolution, within `window_days`.
    Vectorised: episode starts from running resolution counts, window starts by searchsorted over a
    (customer, time) key, switches by a prefix sum of channel changes."""
    resolved = _is_resolution(frame, params)
    n = len(frame)
    if not resolved.any():
        return pd.DataFrame(columns=["ts", "channel", "customer_id", "switches", "elapsed_ms"])
    cust = np.cumsum(np.r_[True, frame["customer_id"].to_numpy()[1:] != frame["customer_id"].to_numpy()[:-1]]) - 1
    ts = frame["ts"].to_numpy(dtype=np.int64)
    channels = frame["channel"].to_numpy(dtype=object)
    before = np.cumsum(resolved) - resolved  # resolutions strictly before each row (global running count)
    new_episode = np.r_[True, (cust[1:] != cust[:-1]) | (before[1:] != before[:-1])]
    episode_start = np.maximum.accumulate(np.where(new_episode, np.arange(n), 0))
    span = int(ts.max() - ts.min()) + 1
    key = cust * span + (ts - ts.min())
    rows = np.flatnonzero(resolved)
    window_start = np.searchsorted(key, key[rows] - params.window_days * DAY_MS, side="left")
    first = np.maximum(window_start, episode_start[rows])
    changes = np.r_[0, np.cumsum((channels[1:] != channels[:-1]) & (cust[1:] == cust[:-1]))]
    customer_ids = frame["customer_id"].to_numpy()
    return pd.DataFrame({"ts": ts[rows], "channel": channels[rows], "customer_id": customer_ids[rows],
                         "switches": changes[rows] - changes[first], "elapsed_ms": ts[rows] - ts[first]})


def _switches(frame: pd.DataFrame, params: KpiParams) -> pd.DataFrame:
    ep = _episodes(frame, params)
    return ep.assign(num=ep["switches"].astype(float), den=1.0)[["ts", "channel", "customer_id", "num", "den"]]


def _time_to_resolution(frame: pd.DataFrame, params: KpiParams) -> pd.DataFrame:
    """Mean hours from an episode's first contact to its resolution."""
    ep = _episodes(frame, params)
    return ep.assign(num=ep["elapsed_ms"] / 3_600_000, den=1.0)[["ts", "channel", "customer_id", "num", "den"]]


def _milestone_conversion(frame: pd.DataFrame, params: KpiParams) -> pd.DataFrame:
    """Share of customers active in a period who reached the milestone in that same period (the
    period test happens after aggregation keys are known, so compare period numbers of both)."""
    reached = frame["customer_id"].map(params.reached_ms).to_numpy(dtype=float)
    obs = _base(frame, 0.0, 1.0)
    obs["reached_ms"] = reached
    return obs


_OBSERVERS = {"contacts_per_customer": _contacts, "repeat_contact": _repeat, "channel_switches": _switches,
              "time_to_resolution": _time_to_resolution, "milestone_conversion": _milestone_conversion,
              "abandonment": _abandonment}
