"""Drill-down in the engine: who is behind a box or a band of a path analysis, or a funnel step.

The customers are selected by an engine expression (the same step rule and "other" folding as
`apps.journeys.analyzers.drill.customers_at`, the same matches as the funnel), counted there, and only
one page of ids (sorted by id, `offset`/`limit`) leaves the engine: a box of 80,000 customers never
becomes a frame or a list in the web process. Every id (for a CSV) is a separate, explicit call.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from apps.events.analytics.journeys import funnel_matches, journeys
from apps.events.engine import Engine, EventFilter
from apps.journeys.analyzers import paths
from apps.journeys.analyzers.drill import OTHER, NodeRef


@dataclass(frozen=True)
class IdPage:
    """One page of customer ids (sorted) and how many there are in all."""

    count: int
    offset: int
    limit: int
    ids: tuple[str, ...]


def path_customers(engine: Engine, flt: EventFilter, *, nodes: Sequence[NodeRef], anchor: str | None = None,
                   backward: bool = False, steps: int = 5, min_count: int = 1, with_channel: bool = False,
                   collapse_repeats: bool = False) -> ir.Table:
    """Customers (one `customer_id` column, distinct) found at every one of `nodes`: each customer is
    anchored at their first `anchor` (or their first event), step 1 is the anchor, and a label fewer
    than `min_count` customers had at a step counts as "other" there."""
    paths.validate(start_event=None if backward else anchor, end_event=anchor if backward else None,
                   steps=steps, min_count=min_count)
    table = journeys(engine, flt, with_channel=with_channel, collapse_repeats=collapse_repeats)
    if anchor is None:
        table = table.mutate(step=table.pos)
    else:
        first = table.filter(table.label == anchor).group_by("customer_id").agg(anchor_pos=table.pos.min())
        table = table.inner_join(first, "customer_id")
        table = table.mutate(step=(table.anchor_pos - table.pos) if backward else (table.pos - table.anchor_pos))
    table = table.filter((table.step >= 0) & (table.step < steps))
    if min_count > 1:
        here = table.count().over(ibis.window(group_by=[table.step, table.label]))
        table = table.mutate(label=ibis.ifelse(here < min_count, ibis.literal(OTHER), table.label))
    wanted = sorted(set(nodes), key=lambda ref: (ref.step, ref.label))
    matched = table.mutate(node=ibis.cases(*[((table.step == ref.step - 1) & (table.label == ref.label), i)
                                             for i, ref in enumerate(wanted)], else_=ibis.null("int64")))
    matched = matched.filter(matched.node.notnull())
    per_customer = matched.group_by("customer_id").agg(found=matched.node.nunique())
    return per_customer.filter(per_customer.found == len(wanted)).select("customer_id")


def funnel_customers(engine: Engine, flt: EventFilter, *, events: Sequence[str], step: int,
                     window_ms: int | None = None, dropped: bool = False, channel: str | None = None) -> ir.Table:
    """Customers who reached `step` (1-based) of the funnel; with `dropped`, those who did not reach
    the next; with `channel`, only those who entered through it."""
    if not 1 <= step <= len(events):
        raise ValueError(f"step must be between 1 and {len(events)}, got {step}")
    matches = funnel_matches(engine, flt, events, window_ms)
    selected = matches.filter(matches[f"p{step - 1}"].notnull())
    if dropped and step < len(events):
        selected = selected.filter(selected[f"p{step}"].isnull())
    if channel is not None:
        selected = selected.filter(selected.entry_channel == channel)
    return selected.select("customer_id")


def page(engine: Engine, customers: ir.Table, *, offset: int = 0, limit: int = 50) -> IdPage:
    """How many customers, and the ids of one page of them in id order."""
    if offset < 0 or limit < 1:
        raise ValueError(f"offset must be at least 0 and limit at least 1, got offset={offset}, limit={limit}")
    count = int(engine.execute(customers.aggregate(n=customers.count()))["n"].iloc[0])
    # numbered by a window rather than LIMIT … OFFSET, which Ibis compiles for Spark with a helper column left in
    numbered = customers.mutate(n=ibis.row_number().over(ibis.window(order_by=customers.customer_id)))
    numbered = numbered.filter((numbered.n >= offset) & (numbered.n < offset + limit))
    ids = engine.execute(numbered.order_by("n").select("customer_id"))["customer_id"]
    return IdPage(count=count, offset=offset, limit=limit, ids=tuple(str(c) for c in ids))


def every_id(engine: Engine, customers: ir.Table) -> list[str]:
    """Every id, in id order (for a download of the whole list)."""
    return [str(c) for c in engine.execute(customers.order_by("customer_id"))["customer_id"]]
