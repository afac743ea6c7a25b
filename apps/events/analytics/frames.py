"""Event frames read through the engine: the inputs of what stays in Python (model training frames,
the candidates of attribute triggers), and the similarity index's journeys, assembled in the engine.

Only the columns asked for leave the engine, already filtered (date range pushed into the Parquet
scan) and ordered by (customer, ts, seq); the frame has the canonical shape of
`apps.journeys.analyzers` (customer_id, event_id, type, channel, ts, intent, outcome, attributes)
plus `seq`, so every analyzer reads it unchanged and equal times keep arrival order.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from apps.events.engine import Engine, EventFilter

FRAME_COLUMNS = ("customer_id", "event_id", "type", "channel", "ts", "intent", "outcome", "attributes", "seq")
# a contact's conversation summary (the contacts table, joined by event id; None for other events)
CONTACT_COLUMNS = ("sentiment_customer", "sentiment_change", "categories")


def events_frame(engine: Engine, flt: EventFilter = EventFilter(), *, columns: Sequence[str] = FRAME_COLUMNS,
                 where: Callable[[ir.Table], ir.BooleanValue] | None = None) -> pd.DataFrame:
    """The events as a pandas frame in journey order; `attributes` (when asked for) decoded to dicts.
    `where` keeps only the rows an analysis can use (evaluated in the engine)."""
    known = (*FRAME_COLUMNS, *CONTACT_COLUMNS, "contact_match")  # the last under a contact filter only
    unknown = sorted(set(columns) - set(known))
    if unknown:
        raise ValueError(f"unknown event column(s) {', '.join(unknown)}; known: {', '.join(known)}")
    wanted = list(dict.fromkeys(["customer_id", "ts", "seq", *columns]))
    events = engine.events(flt)
    if where is not None:
        events = events.filter(where(events))
    summary = [c for c in wanted if c in CONTACT_COLUMNS]
    if summary:
        contacts = engine.contacts()
        contacts = contacts.select(summary_id=contacts.event_id, **{c: contacts[c] for c in summary})
        events = events.left_join(contacts, events.event_id == contacts.summary_id).drop("summary_id")
    table = events.select(*wanted).order_by(["customer_id", "ts", "seq"])
    frame = engine.execute(table)
    frame = frame.reset_index(drop=True)
    for column in summary:
        frame[column] = pd.Series(_summary(frame[column], lists=column == "categories"), index=frame.index,
                                  dtype=object)
    for column in ("customer_id", "event_id", "type", "channel", "intent", "outcome"):
        if column in frame.columns:
            frame[column] = _objects(frame[column])
    frame["ts"] = frame["ts"].astype("int64")
    frame["seq"] = frame["seq"].astype("int64")
    if "attributes" in frame.columns:
        texts = [t if isinstance(t, str) and t else "{}" for t in frame["attributes"]]
        frame["attributes"] = json.loads("[" + ",".join(texts) + "]") if texts else []
    return frame[[c for c in known if c in wanted]]


def _summary(column: pd.Series, *, lists: bool) -> list[object]:
    """Summary values as plain Python: None where the event is not an analysed contact, categories as
    lists of names, sentiment as floats (the shape the graph's event rows give online scoring)."""
    if lists:
        return [list(v) if v is not None and not isinstance(v, float) else None for v in column]
    return [None if pd.isna(v) else float(v) for v in column]


def _objects(column: pd.Series) -> np.ndarray:
    """Text columns as object arrays with None for missing values: the shape the analyzers were
    written for (and that the graph's frame had)."""
    values: np.ndarray = column.astype(object).to_numpy(copy=True)
    values[np.asarray(column.isna().to_numpy(), dtype=bool)] = None
    return values


def sequences(engine: Engine, flt: EventFilter = EventFilter()) -> dict[str, tuple[str, ...]]:
    """Each customer's journey (event types in (ts, seq) order): the similarity index's input, put
    together in the engine, so one row per customer comes back instead of one per event. The list is
    collected as (position, type) pairs and sorted, the one ordered collect both engines run alike."""
    events = engine.events(flt)
    table = events.mutate(pos=ibis.row_number().over(
        ibis.window(group_by=events.customer_id, order_by=[events.ts, events.seq])))
    per_customer = table.group_by("customer_id").agg(
        trace=ibis.struct({"pos": table.pos, "label": table.type}).collect())
    per_customer = per_customer.mutate(trace=per_customer.trace.sort().map(lambda item: item.label))
    rows = engine.execute(per_customer)
    return dict(sorted((str(c), tuple(str(v) for v in trace)) for c, trace in rows.itertuples(index=False)))


def signatures(engine: Engine) -> pd.DataFrame:
    """Per customer: event count and sum of times, which change whenever an event is added or moved,
    so an index built earlier finds the customers to update without re-reading every journey."""
    table = engine.events()
    grouped = table.group_by("customer_id").agg(size=table.count(), total=table.ts.sum())
    frame = engine.execute(grouped)
    return frame.set_index(frame["customer_id"].astype(object)).drop(columns="customer_id").sort_index()
