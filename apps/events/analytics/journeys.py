"""Journey analyses as engine expressions: top journeys, variants, directly-follows counts, paths
around an event, funnels and their drill-down.

Each analysis aggregates inside the engine and brings back only small results (counts per label,
per step, per variant); the result types, folding and rounding are those of apps.journeys.analyzers,
so answers are identical to the in-memory analyzers on the same events in the same order.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from apps.events.engine import (
    TRACE_BASE,
    TRACE_ZERO,
    Engine,
    EventFilter,
    UnknownValueError,
    only_customers,
    trace_width,
)
from apps.journeys.analyzers import frequency, funnels, paths
from apps.journeys.analyzers.base import SEPARATOR, CleaningRule, clean_label, compile_rules


def _window(table: ir.Table) -> Any:
    return ibis.window(group_by=table.customer_id, order_by=[table.ts, table.seq])


def journeys(engine: Engine, flt: EventFilter, *, with_channel: bool = False,
             rules: Iterable[CleaningRule | tuple[str, str]] = (), collapse_repeats: bool = False,
             following: bool = False, preceding: bool = False, only: Sequence[str] | None = None) -> ir.Table:
    """Events as (customer_id, label, ts, seq, channel, pos): `pos` is the 0-based place in the
    customer's journey ordered by (ts, seq); labels are cleaned and consecutive repeats collapsed when
    asked; `following` / `preceding` add the next / previous label of the journey (`nxt`, `prv`).

    `only` keeps the events with these labels and nothing else: their positions keep their order but
    not their values, for analyses that only compare positions (funnels). Over whole journeys the
    engine's journey table (positions and neighbours computed once per store content) answers
    without sorting; otherwise the engine sorts each journey once, in one window pass."""
    rules = tuple(rules)
    prepared = engine.journey_table() if flt.whole_journeys and not rules and not collapse_repeats else None
    if prepared is not None:
        return _prepared_journeys(prepared, flt, with_channel=with_channel, following=following,
                                  preceding=preceding, only=only)
    events = engine.events(flt)
    label = events.type.concat(SEPARATOR, events.channel) if with_channel else events.type
    marked = ["contact_match"] if "contact_match" in events.columns else []  # a contact filter's matches
    table = events.select("customer_id", "ts", "seq", "channel", *marked, label=label)
    mapping = _cleaned_labels(engine, table, rules)
    if mapping:
        table = table.mutate(label=table.label.substitute(mapping))
    if collapse_repeats:
        previous = table.label.lag().over(_window(table))
        table = table.mutate(previous=previous)
        table = table.filter(table.previous.isnull() | (table.previous != table.label)).drop("previous")
    if only is not None:
        table = table.filter(table.label.isin(list(only)))
    window = _window(table)
    ordered: dict[str, Any] = {}
    if following:
        ordered["nxt"] = table.label.lead().over(window)
    if preceding:
        ordered["prv"] = table.label.lag().over(window)
    return table.mutate(pos=ibis.row_number().over(window), **ordered)


def _prepared_journeys(prepared: ir.Table, flt: EventFilter, *, with_channel: bool, following: bool,
                       preceding: bool, only: Sequence[str] | None) -> ir.Table:
    """`journeys` read from the journey table: the same columns, no window."""
    columns: dict[str, Any] = {"customer_id": prepared.customer_id, "ts": prepared.ts, "seq": prepared.seq,
                               "channel": prepared.channel,
                               "label": prepared.label_ch if with_channel else prepared.type}
    if following:
        columns["nxt"] = prepared.next_ch if with_channel else prepared.next_type
    if preceding:
        columns["prv"] = prepared.prev_ch if with_channel else prepared.prev_type
    table = prepared.select(**columns, pos=prepared.pos)
    if flt.customer_ids is not None:
        table = only_customers(table, flt.customer_ids)
    if only is not None:
        table = table.filter(table.label.isin(list(only)))
    return table


def _cleaned_labels(engine: Engine, table: ir.Table, rules: Iterable[CleaningRule | tuple[str, str]]
                    ) -> dict[str, str]:
    """Cleaning rules run in Python on the distinct labels only (so regex semantics are Python's on
    every engine); the engine then rewrites labels through the resulting mapping."""
    compiled = compile_rules(rules)
    if not compiled:
        return {}
    labels = engine.execute(table.select("label").distinct())["label"]
    mapping = {str(lab): clean_label(str(lab), compiled) for lab in labels}
    return {k: v for k, v in mapping.items() if k != v}


def total_customers(engine: Engine, flt: EventFilter) -> int:
    events = journeys(engine, flt) if flt.whole_journeys else engine.events(flt)
    return int(engine.execute(events.customer_id.nunique()))


# ---------------------------------------------------------------- frequency


def directly_follows(engine: Engine, flt: EventFilter, *, with_channel: bool = False) -> frequency.DirectlyFollows:
    """(a, b) counts of consecutive events of one customer, and journeys' first and last labels, from
    one grouped query: rows grouped by (label, next label, is first)."""
    table = journeys(engine, flt, with_channel=with_channel, following=True)
    table = table.mutate(first=table.pos == 0)
    counts = engine.execute(table.group_by(["label", "nxt", "first"]).agg(n=table.count()))
    edges: dict[tuple[str, str], int] = {}
    start: dict[str, int] = {}
    end: dict[str, int] = {}
    for label, nxt, first, n in counts.itertuples(index=False):
        if pd.isna(nxt):
            end[str(label)] = end.get(str(label), 0) + int(n)
        else:
            key = (str(label), str(nxt))
            edges[key] = edges.get(key, 0) + int(n)
        if first:
            start[str(label)] = start.get(str(label), 0) + int(n)
    return frequency.DirectlyFollows(edges=_sorted(edges), start=_sorted(start), end=_sorted(end))


def _sorted(counts: dict[Any, int]) -> dict[Any, int]:
    return dict(sorted(counts.items()))


def top_journeys(engine: Engine, flt: EventFilter, *, max_steps: int = 5, with_channel: bool = False,
                 limit: int = 20) -> frequency.TopJourneys:
    """Journeys (each customer's first `max_steps` labels) ranked by customers, with the median time
    from first to last of those steps; ties at the cut are all fetched, then ordered by their steps."""
    if not 1 <= max_steps <= frequency.MAX_STEPS:
        raise ValueError(f"max_steps must be between 1 and {frequency.MAX_STEPS}, got {max_steps}")
    table = journeys(engine, flt, with_channel=with_channel)
    table = table.filter(table.pos < max_steps)
    step_columns = [f"s{p}" for p in range(max_steps)]
    per_customer = table.group_by("customer_id").agg(
        duration=table.ts.max() - table.ts.min(),
        **{name: table.label.max(where=table.pos == p) for p, name in enumerate(step_columns)})
    variants = per_customer.group_by(step_columns).agg(customers=per_customer.count(),
                                                       median=per_customer.duration.median())
    variants = variants.mutate(total=variants.customers.sum().over(ibis.window()),
                               rank=ibis.rank().over(ibis.window(order_by=ibis.desc(variants.customers))))
    rows = engine.execute(variants.filter(variants["rank"] < limit))
    if rows.empty:
        return frequency.TopJourneys(total_customers=0, max_steps=max_steps, journeys=())
    total = int(rows["total"].iloc[0])
    found = [frequency.JourneyCount(steps=tuple(str(v) for v in row[:max_steps] if not pd.isna(v)),
                                    customers=int(row[max_steps]), share=round(int(row[max_steps]) / total, 6),
                                    median_duration_ms=float(row[max_steps + 1]))
             for row in rows[[*step_columns, "customers", "median"]].itertuples(index=False)]
    found.sort(key=lambda j: (-j.customers, j.steps))
    return frequency.TopJourneys(total_customers=total, max_steps=max_steps, journeys=tuple(found[:limit]))


def variants(engine: Engine, flt: EventFilter, *, with_channel: bool = False) -> dict[tuple[str, ...], int]:
    """Whole journeys (process-mining variants) and how many customers followed each: over whole
    journeys by event type, counted from the journey table's traces (one code text per customer)."""
    traces = engine.trace_table() if flt.whole_journeys and not with_channel else None
    if traces is not None:
        if flt.customer_ids is not None:
            traces = only_customers(traces, flt.customer_ids)
        counts = engine.to_arrow(traces.group_by("trace").agg(customers=traces.count()))
        return _decoded_traces(counts, engine.trace_types())
    table = journeys(engine, flt, with_channel=with_channel)
    per_customer = table.group_by("customer_id").agg(
        trace=ibis.struct({"pos": table.pos, "label": table.label}).collect())
    per_customer = per_customer.mutate(trace=per_customer.trace.sort().map(lambda item: item.label))
    counts = engine.execute(per_customer.group_by("trace").agg(customers=per_customer.count()))
    return {tuple(str(v) for v in trace): int(n) for trace, n in counts.itertuples(index=False)}


def _decoded_traces(counts: pa.Table, types: tuple[str, ...]) -> dict[tuple[str, ...], int]:
    """(trace, customers) rows as {types in order: customers}. A trace's bytes are its types' codes
    in fixed-width digits, so all traces decode at once from the text's bytes and offsets, and each
    variant is one slice of one list of (shared) type names."""
    text = counts.column("trace").combine_chunks()
    if not pa.types.is_large_string(text.type):
        text = text.cast(pa.large_string())
    width = trace_width(len(types))
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset:text.offset + len(text) + 1]
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].astype(np.int64) - TRACE_ZERO
    digits = data.reshape(-1, width)
    codes = digits @ (TRACE_BASE ** np.arange(width - 1, -1, -1, dtype=np.int64))
    names = tuple(np.array(types, dtype=object)[codes].tolist())  # a tuple's slice is a tuple: one allocation
    bounds = ((offsets - offsets[0]) // width).tolist()
    journeys = map(names.__getitem__, map(slice, bounds[:-1], bounds[1:]))
    return dict(zip(journeys, counts.column("customers").to_pylist(), strict=True))


# ---------------------------------------------------------------- paths


def journey_paths(engine: Engine, flt: EventFilter, *, start_event: str | None = None, end_event: str | None = None,
                  steps: int = 5, min_count: int = 1, with_channel: bool = False,
                  cleaning_rules: Iterable[CleaningRule | tuple[str, str]] = (),
                  collapse_repeats: bool = False) -> paths.PathResult:
    """Customers per step after `start_event` (or from journey start), or before `end_event`."""
    paths.validate(start_event=start_event, end_event=end_event, steps=steps, min_count=min_count)
    anchor = end_event or start_event
    backward = bool(end_event)
    table = journeys(engine, flt, with_channel=with_channel, rules=cleaning_rules, collapse_repeats=collapse_repeats,
                     following=not backward, preceding=backward)
    table = table.rename(other="prv" if backward else "nxt")
    if anchor is None:
        table = table.mutate(step=table.pos)
    else:
        at_anchor = table.label == anchor
        if "contact_match" in table.columns:  # paths into (or out of) the contacts that matched
            at_anchor &= table.contact_match
        first = table.filter(at_anchor).group_by("customer_id").agg(anchor_pos=table.pos.min())
        table = table.inner_join(first, "customer_id")
        table = table.mutate(step=(table.anchor_pos - table.pos) if backward else (table.pos - table.anchor_pos))
    table = table.filter((table.step >= 0) & (table.step <= steps))
    table = table.mutate(other=ibis.ifelse(table.step < steps, table.other, ibis.null(str)))
    counts = engine.execute(table.group_by(["step", "label", "other"]).agg(n=table.count()))
    node_counts: dict[tuple[int, str], int] = {}
    link_counts: dict[tuple[int, str, str], int] = {}
    for step, label, other, n in counts.itertuples(index=False):
        node_counts[(int(step), str(label))] = node_counts.get((int(step), str(label)), 0) + int(n)
        if not pd.isna(other):
            link_counts[(int(step), str(label), str(other))] = int(n)
    anchored = sum(n for (step, _), n in node_counts.items() if step == 0)
    return paths.assemble(anchor=anchor, backward=backward, total_customers=total_customers(engine, flt),
                          anchored=anchored, node_counts=node_counts, link_counts=link_counts,
                          min_count=min_count, steps=steps)


# ---------------------------------------------------------------- funnels


def _funnel_reached(engine: Engine, flt: EventFilter, events: Sequence[str], window_ms: int | None) -> list[ir.Table]:
    """Per step, one row per customer who reached it: customer_id, entry_channel, t0 (entry time),
    pos and ts of the step's match, gap (ms from the previous step's match; null at entry). Entry is
    the first event of step 1; each later step is the earliest event of its type after the previous
    match, within `window_ms` of the entry. Each step joins only the customers still in the funnel
    with that step's events (no left join back), so the work shrinks with the funnel."""
    funnels.validate(events, window_ms)
    table = journeys(engine, flt, only=sorted(set(events)))
    entry = table.filter(table.label == events[0])
    reached = entry.group_by("customer_id").agg(entry_channel=entry.channel.argmin(entry.pos),
                                                t0=entry.ts.argmin(entry.pos), pos=entry.pos.min())
    reached = reached.mutate(ts=reached.t0, gap=ibis.null("int64"))
    steps = [reached]
    for event in events[1:]:
        candidates = table.filter(table.label == event).select(cid="customer_id", cpos="pos", cts="ts")
        joined = reached.inner_join(candidates, reached.customer_id == candidates.cid)
        ok = joined.cpos > joined.pos
        if window_ms is not None:
            ok &= (joined.cts - joined.t0) <= window_ms
        rows = joined.filter(ok)
        reached = rows.group_by("customer_id").agg(
            entry_channel=rows.entry_channel.max(), t0=rows.t0.max(), pos=rows.cpos.min(),
            ts=rows.cts.argmin(rows.cpos), gap=(rows.cts - rows.ts).argmin(rows.cpos))
        steps.append(reached)
    return steps


def funnel_matches(engine: Engine, flt: EventFilter, events: Sequence[str], window_ms: int | None) -> ir.Table:
    """One row per customer who entered: entry channel, and per step the matched position and time
    (null when not reached); from `_funnel_reached`, for the drill-down (analytics.drill)."""
    steps = _funnel_reached(engine, flt, events, window_ms)
    matches = steps[0].select("customer_id", "entry_channel", "t0", p0="pos")
    for i, step in enumerate(steps[1:], start=1):
        found = step.select(cid="customer_id", **{f"p{i}": step.pos, f"t{i}": step.ts})
        matches = matches.left_join(found, matches.customer_id == found.cid).drop("cid")
    return matches


def funnel(engine: Engine, flt: EventFilter, *, events: Sequence[str], window_ms: int | None = None,
           by_channel: bool = False) -> funnels.FunnelResult:
    """Conversion and drop-off per step (and per entry channel): counts and median gaps of every
    step, for the whole funnel and per entry channel, in one query (each step's rows computed once)."""
    parts = []
    for i, step in enumerate(_funnel_reached(engine, flt, events, window_ms)):
        whole = step.aggregate(n=step.count(), m=step.gap.median())
        parts.append(whole.mutate(step=i, whole=True, entry_channel=ibis.null(str))
                     .select("step", "whole", "entry_channel", "n", "m"))
        if by_channel:
            channels = step.group_by("entry_channel").agg(n=step.count(), m=step.gap.median())
            parts.append(channels.mutate(step=i, whole=False).select("step", "whole", "entry_channel", "n", "m"))
    rows = engine.execute(ibis.union(*parts) if len(parts) > 1 else parts[0])
    steps = _funnel_steps(events, rows[rows["whole"].astype(bool)])
    breakdown: dict[str, tuple[funnels.FunnelStep, ...]] = {}
    split = rows[~rows["whole"].astype(bool)].assign(entry_channel=lambda r: r["entry_channel"].astype(str))
    for channel in sorted(split.loc[split["step"] == 0, "entry_channel"]):
        breakdown[channel] = _funnel_steps(events, split[split["entry_channel"] == channel])
    return funnels.FunnelResult(events=tuple(events), window_ms=window_ms, steps=steps, by_channel=breakdown)


def _funnel_steps(events: Sequence[str], rows: pd.DataFrame) -> tuple[funnels.FunnelStep, ...]:
    """Steps from (step index, customers n, median gap m) rows; a step without a row has 0 customers."""
    found = {int(step): (n, m) for step, n, m in rows[["step", "n", "m"]].itertuples(index=False)}
    counts = [int(found[i][0]) if i in found and not pd.isna(found[i][0]) else 0 for i in range(len(events))]
    medians: list[float | None] = [None]
    for i in range(1, len(events)):
        median = found[i][1] if i in found else None
        medians.append(None if median is None or pd.isna(median) else float(median))
    return funnels.steps_of(events, counts, medians)


def check_labels(engine: Engine, labels: Iterable[str | None], *, with_channel: bool = False) -> None:
    """A question naming a label no event carries fails clearly instead of answering with nothing.
    With channels, a label is `type@channel` and both parts must be known."""
    wanted = [label for label in labels if label]
    if not with_channel:
        engine.check_known("type", wanted)
        return
    for label in wanted:
        if SEPARATOR not in label:
            raise UnknownValueError(f"with channels, events are named type{SEPARATOR}channel; got {label!r}")
    engine.check_known("type", [label.rsplit(SEPARATOR, 1)[0] for label in wanted])
    engine.check_known("channel", [label.rsplit(SEPARATOR, 1)[1] for label in wanted])
