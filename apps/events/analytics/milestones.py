"""Milestone triggers in the engine: the first event at which each customer satisfied a trigger,
the rule of `apps.journeys.analyzers.milestones.first_reaches` (the in-memory analyzer the tests
compare with), computed where the events are; one row per customer comes back.

- event type: the customer's first event of that type in journey order (ts, then arrival).
- sequence: from every occurrence of the first type, each later type is matched at its earliest
  occurrence after the previous match (a window function gives every row the position of the next
  occurrence of each type, and a join on (customer, position) follows one step at a time, so no
  customer's events are paired with each other); a start completes when its last match is within
  the window of the start, and the customer's reach is the earliest completion.
- attribute: the engine keeps the rows that can match (the column is set; the JSON attributes name
  the key) and the comparison itself (`milestones.compare`: text, numbers, presence) runs in Python
  on those rows only, so its semantics do not depend on the engine.
"""
from __future__ import annotations

import json

import ibis
import ibis.expr.types as ir

from apps.events.analytics import frames
from apps.events.engine import Engine, EventFilter
from apps.journeys.analyzers import milestones
from apps.journeys.analyzers.milestones import COLUMN_ATTRIBUTES, Reach, Trigger


def first_reaches(engine: Engine, flt: EventFilter, trigger: Trigger) -> dict[str, Reach]:
    """Each customer's first event satisfying the trigger (customers who never did are absent)."""
    if trigger.kind == "event_type":
        events = engine.events(flt)
        return _firsts(engine, events.filter(events.type == trigger.event_type))
    if trigger.kind == "sequence":
        return _sequence(engine, flt, trigger)
    if trigger.kind == "attribute":
        candidates = frames.events_frame(engine, flt, where=lambda t: _may_match(t, trigger))
        return milestones.first_reaches(candidates, trigger)
    raise ValueError(f"unknown trigger kind {trigger.kind!r} (event_type, sequence, attribute)")


def _firsts(engine: Engine, hits: ir.Table) -> dict[str, Reach]:
    """The first row of each customer among `hits`, in journey order."""
    ranked = hits.mutate(rank=ibis.row_number().over(
        ibis.window(group_by=hits.customer_id, order_by=[hits.ts, hits.seq])))
    rows = engine.execute(ranked.filter(ranked["rank"] == 0).select("customer_id", "ts", "event_id"))
    return _reaches(rows)


def _reaches(rows: object) -> dict[str, Reach]:
    return {str(c): Reach(str(c), int(t), str(e))
            for c, t, e in sorted(rows.itertuples(index=False))}  # type: ignore[attr-defined]


def _may_match(table: ir.Table, trigger: Trigger) -> ir.BooleanValue:
    """Rows an attribute trigger can match: its column is set, or the JSON attributes name its key
    (as written, and with non-ASCII characters escaped)."""
    if trigger.attribute in COLUMN_ATTRIBUTES:
        return table[trigger.attribute].notnull()
    spellings = {json.dumps(trigger.attribute), json.dumps(trigger.attribute, ensure_ascii=False)}
    condition = ibis.literal(False)
    for spelling in spellings:
        condition |= table.attributes.contains(spelling)
    return condition


def _sequence(engine: Engine, flt: EventFilter, trigger: Trigger) -> dict[str, Reach]:
    sequence = list(trigger.sequence)
    events = engine.events(flt)
    events = events.filter(events.type.isin(sorted(set(sequence))))  # other events never change a match
    ordered = ibis.window(group_by=events.customer_id, order_by=[events.ts, events.seq])
    after = ibis.window(group_by=events.customer_id, order_by=[events.ts, events.seq], rows=(1, None))
    table = events.mutate(pos=ibis.row_number().over(ordered))
    table = table.mutate(**{f"n{i}": ibis.ifelse(table.type == kind, table.pos, ibis.null("int64")).min().over(after)
                            for i, kind in enumerate(sequence[1:], start=1)})
    lookup = table.select(lk_customer=table.customer_id, lk_pos=table.pos, lk_ts=table.ts,
                          lk_event=table.event_id, **{f"lk_n{i}": table[f"n{i}"] for i in range(1, len(sequence))})
    starts = table.filter(table.type == sequence[0])
    current = starts.select("customer_id", start_ts=starts.ts, cur=starts.pos)
    for i in range(1, len(sequence)):
        joined = current.inner_join(lookup, _at(current, lookup))
        joined = joined.filter(joined[f"lk_n{i}"].notnull())
        current = joined.select("customer_id", "start_ts", cur=joined[f"lk_n{i}"])
    done = current.inner_join(lookup, _at(current, lookup))
    if trigger.window_ms is not None:
        done = done.filter(done.lk_ts - done.start_ts <= trigger.window_ms)
    best = done.group_by("customer_id").agg(ts=done.lk_ts.argmin(done.cur), event_id=done.lk_event.argmin(done.cur))
    return _reaches(engine.execute(best.select("customer_id", "ts", "event_id")))


def _at(current: ir.Table, lookup: ir.Table) -> ir.BooleanValue:
    """The lookup row at a start's current match: same customer, same position."""
    return (current.customer_id == lookup.lk_customer) & (current.cur == lookup.lk_pos)
