"""KPIs as one engine expression each: observations, periods and the three dimensions computed where
the events are (DuckDB or Spark), only the (period, dimension, value, numerator, denominator) rows
come back.

The rules are those of `apps.journeys.analyzers.kpis` (the in-memory analyzer the tests compare with):
journeys ordered by (ts, seq); a repeat contact has the customer's previous contact within
`window_days`; a resolution episode runs from the first contact after the customer's previous
resolution, but no earlier than `window_days` before the resolution, and counts channel changes
between consecutive contacts and the time from its first contact; milestone conversion counts the
customers active in a period who reached the milestone in that same period. Numerators and
denominators are sums, or distinct customers where `DISTINCT` says so; points are rounded and
ordered by the analyzer's shared code.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from apps.events.engine import Engine, EventFilter
from apps.journeys.analyzers.kpis import DAY_MS, DISTINCT, KINDS, KpiParams, KpiPoint

HOUR_MS = 3_600_000
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _window(table: ir.Table, **frame: Any) -> Any:
    return ibis.window(group_by=table.customer_id, order_by=[table.ts, table.seq], **frame)


def _period(ts: ir.IntegerValue, period: str) -> ir.IntegerValue:
    """Epoch-day number of the UTC day, or of the Monday of the ISO week (1970-01-01 was a Thursday)."""
    days = ts // DAY_MS
    if period == "day":
        return days
    if period == "week":
        return days - (days + 3) % 7
    raise ValueError(f"period must be 'day' or 'week', got {period!r}")


def _flag(condition: ir.BooleanValue) -> ir.IntegerValue:
    """1 where the condition holds, 0 where it does not or is unknown (a missing outcome matches nothing)."""
    return ibis.ifelse(condition, 1, 0)


def _contacts(events: ir.Table, params: KpiParams) -> ir.Table:
    return events.mutate(num=ibis.literal(1), den=ibis.literal(1))


def _repeat(events: ir.Table, params: KpiParams) -> ir.Table:
    previous = events.ts.lag().over(_window(events))
    return events.mutate(num=_flag(previous.notnull() & (events.ts - previous <= params.window_days * DAY_MS)),
                         den=ibis.literal(1))


def _abandonment(events: ir.Table, params: KpiParams) -> ir.Table:
    return events.mutate(num=_flag(events.outcome.isin(list(params.abandoned_outcomes))), den=ibis.literal(1))


def _episodes(events: ir.Table, params: KpiParams) -> ir.Table:
    """One row per resolution with `switches` and `elapsed_ms` of its episode: `before` numbers the
    episodes of a customer (resolutions before the row), `changes` counts channel changes so far;
    over the episode's rows within `window_days` before the resolution (a range frame on ts), the
    smallest ts and change count are those of the episode's first contact."""
    resolved = events.outcome.isin(list(params.resolved_outcomes)).fill_null(False)
    if params.resolution_types:
        resolved |= events.type.isin(list(params.resolution_types)).fill_null(False)
    rows = _window(events, rows=(None, 0))
    table = events.mutate(resolved=_flag(resolved), pos=ibis.row_number().over(_window(events)),
                          previous_channel=events.channel.lag().over(_window(events)))
    table = table.mutate(change=_flag((table.pos > 0) & ~table.channel.identical_to(table.previous_channel)))
    table = table.mutate(before=table.resolved.sum().over(rows) - table.resolved,
                         changes=table.change.sum().over(rows))
    episode = ibis.range_window(group_by=[table.customer_id, table.before], order_by=table.ts,
                                preceding=params.window_days * DAY_MS, following=0)
    table = table.mutate(first_ts=table.ts.min().over(episode), first_changes=table.changes.min().over(episode))
    table = table.filter(table.resolved == 1)
    return table.mutate(switches=table.changes - table.first_changes, elapsed_ms=table.ts - table.first_ts)


def _switches(events: ir.Table, params: KpiParams) -> ir.Table:
    episodes = _episodes(events, params)
    return episodes.mutate(num=episodes.switches, den=ibis.literal(1))


def _time_to_resolution(events: ir.Table, params: KpiParams) -> ir.Table:
    """The numerator is summed in milliseconds (exact) and turned into hours after the sum."""
    episodes = _episodes(events, params)
    return episodes.mutate(num=episodes.elapsed_ms, den=ibis.literal(1))


_OBSERVERS = {"contacts_per_customer": _contacts, "repeat_contact": _repeat, "channel_switches": _switches,
              "time_to_resolution": _time_to_resolution, "abandonment": _abandonment}


def observations(engine: Engine, flt: EventFilter, *, kind: str, params: KpiParams, period: str,
                 segments: Mapping[str, str] | None, since_ms: int | None) -> ir.Table:
    """(customer_id, ts, period, channel, segment, num, den) per observation of the KPI."""
    if kind not in KINDS:
        raise ValueError(f"unknown KPI kind {kind!r}; known: {', '.join(KINDS)}")
    events = engine.events(flt).select("customer_id", "ts", "seq", "type", "channel", "outcome")
    if params.event_types:
        events = events.filter(events.type.isin(list(params.event_types)))
    if kind == "milestone_conversion":
        obs = _milestone_conversion(events, params, period)
    else:
        obs = _OBSERVERS[kind](events, params)
        obs = obs.mutate(period=_period(obs.ts, period))
    if since_ms is not None:
        obs = obs.filter(obs.ts >= since_ms)
    obs = obs.mutate(channel=obs.channel.fill_null(""))
    if segments:
        table = ibis.memtable(pd.DataFrame({"segment_customer": list(segments),
                                            "segment": [str(v) for v in segments.values()]}))
        obs = obs.left_join(table, obs.customer_id == table.segment_customer).drop("segment_customer")
        obs = obs.mutate(segment=obs.segment.fill_null(""))
    else:
        obs = obs.mutate(segment=ibis.literal(""))
    return obs.select("customer_id", "ts", "period", "channel", "segment", "num", "den")


def _milestone_conversion(events: ir.Table, params: KpiParams, period: str) -> ir.Table:
    """Every contact counts its customer as active; the customer counts as converted in the period
    when their reach falls in the same period."""
    events = events.mutate(period=_period(events.ts, period))
    if not params.reached_ms:
        return events.mutate(num=ibis.literal(0), den=ibis.literal(1))
    reached = ibis.memtable(pd.DataFrame({"reached_customer": list(params.reached_ms),
                                          "reached_ms": [int(v) for v in params.reached_ms.values()]}))
    joined = events.left_join(reached, events.customer_id == reached.reached_customer)
    converted = joined.reached_ms.notnull() & (_period(joined.reached_ms, period) == joined.period)
    return joined.mutate(num=_flag(converted), den=ibis.literal(1)).drop("reached_customer", "reached_ms")


def kpi_points(engine: Engine, flt: EventFilter, *, kind: str, params: KpiParams = KpiParams(), period: str = "day",
               segments: Mapping[str, str] | None = None, since_ms: int | None = None) -> tuple[KpiPoint, ...]:
    """Values of one KPI kind for every period with data, overall, per channel and per segment
    (segments only when some customer has one): the analyzer's `compute_kpi` in the engine."""
    obs = observations(engine, flt, kind=kind, params=params, period=period, segments=segments, since_ms=since_ms)
    distinct_num, distinct_den = DISTINCT[kind]
    dimensions = {"all": ibis.literal(""), "channel": obs.channel, "segment": obs.segment}
    parts = []
    for name, value in dimensions.items():
        if name == "segment" and not segments:
            continue
        grouped = obs.mutate(dimension=ibis.literal(name), dimension_value=value)
        parts.append(grouped.group_by(["period", "dimension", "dimension_value"]).agg(
            num=(grouped.customer_id.nunique(where=grouped.num > 0) if distinct_num else grouped.num.sum())
            .cast("int64"),
            den=(grouped.customer_id.nunique(where=grouped.den > 0) if distinct_den else grouped.den.sum())
            .cast("int64")))
    table = ibis.union(*parts)
    rows = engine.execute(table.filter(table.den > 0))
    scale = HOUR_MS if kind == "time_to_resolution" else 1
    points = [KpiPoint(period_start=date.fromordinal(EPOCH_ORDINAL + int(p)), dimension=str(d), dimension_value=str(v),
                       value=round(float(n) / scale / float(den), 6), numerator=float(n) / scale,
                       denominator=float(den))
              for p, d, v, n, den in rows[["period", "dimension", "dimension_value", "num", "den"]]
              .itertuples(index=False)]
    return tuple(sorted(points, key=lambda p: (p.period_start, p.dimension, p.dimension_value)))


def active_range(engine: Engine, flt: EventFilter) -> tuple[int, int] | None:
    """The first and last event time the filter selects (None when it selects nothing)."""
    events = engine.events(flt)
    row = engine.execute(events.aggregate(first=events.ts.min(), last=events.ts.max(), n=events.count())).iloc[0]
    return None if int(row["n"]) == 0 else (int(row["first"]), int(row["last"]))


def customers(engine: Engine, flt: EventFilter) -> list[str]:
    """The customers the filter selects, sorted."""
    events = engine.events(flt)
    return sorted(str(c) for c in engine.execute(events.select("customer_id").distinct())["customer_id"])
