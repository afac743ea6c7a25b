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

from apps.journeys.analyzers.base import journey_order

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
    segment = obs["customer_id"].map(segments or {}).astype(object)
    obs = obs.assign(period=period_start(obs["ts"].to_numpy(dtype=np.int64), period),
                     segment=segment.where(segment.notna(), ""), all="")
    if "reached_ms" in obs.columns:
        obs["num"] = _reached_in_period(obs["reached_ms"].to_numpy(dtype=float), obs["period"].to_numpy(), period)
    points: list[KpiPoint] = []
    for dimension in ("all", "channel", "segment"):
        if dimension == "segment" and not segments:
            continue
        points.extend(_aggregate(obs, dimension, DISTINCT[kind]))
    return tuple(sorted(points, key=lambda p: (p.period_start, p.dimension, p.dimension_value)))


def _reached_in_period(reached: np.ndarray, periods: np.ndarray, period: str) -> np.ndarray:
    has = ~np.isnan(reached)
    reach_period = np.full(len(reached), np.iinfo(np.int64).min, dtype=np.int64)
    reach_period[has] = period_start(reached[has].astype(np.int64), period)
    return (has & (reach_period == periods)).astype(float)


def _aggregate(obs: pd.DataFrame, dimension: str, distinct: tuple[bool, bool]) -> Iterable[KpiPoint]:
    grouped = obs.groupby(["period", dimension], sort=True)
    num = (obs[obs["num"] > 0].groupby(["period", dimension])["customer_id"].nunique() if distinct[0]
           else grouped["num"].sum())
    den = (obs[obs["den"] > 0].groupby(["period", dimension])["customer_id"].nunique() if distinct[1]
           else grouped["den"].sum())
    table = pd.concat({"num": num, "den": den}, axis=1).fillna(0.0)
    for (day, value), row in table.iterrows():
        if row["den"] <= 0:
            continue
        yield KpiPoint(period_start=date.fromordinal(date(1970, 1, 1).toordinal() + int(day)),
                       dimension=dimension, dimension_value=str(value), value=round(row["num"] / row["den"], 6),
                       numerator=float(row["num"]), denominator=float(row["den"]))


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
    episode is the customer's contacts after their previous resolution, within `window_days`."""
    resolved = _is_resolution(frame, params)
    rows = []
    for _, group in frame.assign(resolved=resolved).groupby("customer_id", sort=False):
        start = 0
        ts, channels, flags = group["ts"].to_numpy(), group["channel"].to_numpy(), group["resolved"].to_numpy()
        for i in np.flatnonzero(flags):
            first = int(start)
            while ts[i] - ts[first] > params.window_days * DAY_MS:
                first += 1
            switches = int(np.count_nonzero(channels[first + 1:i + 1] != channels[first:i]))
            rows.append((ts[i], channels[i], group["customer_id"].iat[i], switches, ts[i] - ts[first]))
            start = int(i) + 1
    return pd.DataFrame(rows, columns=["ts", "channel", "customer_id", "switches", "elapsed_ms"])


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
