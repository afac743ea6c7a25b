"""Reads that copy the graph's events out in pieces: for the event store's `check` and `rebuild`
(apps/events), which compare or rebuild the columnar copy without holding the graph in memory.

An event counts as accepted once its `performed` edge exists (the write path writes it last), so
every read here starts from customers' `performed` edges or requires one. Rows are plain dicts with
the event store's columns (apps/events/schema.py) except the batch id, which the graph does not keep.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import Merge, P, T

from graph import schema as s
from graph.connection import bulk_rows, get_g, many_ids, run_writes
from graph.write_plan import chunks, id_chunks

CUSTOMER_PAGE = 1000


def customer_id_pages(size: int | None = None) -> Iterator[list[str]]:
    """Every customer id, in id order, `size` at a time (keyset pages: each page starts after the
    last id of the one before, so a page costs the same however far the walk has got)."""
    size = size or CUSTOMER_PAGE
    last: str | None = None
    while True:
        start = get_g().V().has_label(s.CUSTOMER)
        if last is not None:
            start = start.has("customer_id", P.gt(last))
        page = [str(c) for c in start.values("customer_id").order().limit(size).to_list()]
        if not page:
            return
        yield page
        last = page[-1]
        if len(page) < size:
            return


def events_of_customers(customer_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Every accepted event of these customers, as event-store rows (in no particular order)."""
    return events_and_contacts_of_customers(customer_ids)[0]


def events_and_contacts_of_customers(customer_ids: Sequence[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`events_of_customers`, and the conversation summaries those events carry as contacts-table
    rows (apps/events/schema.py, without `updated`) plus the event's `ts`, from the same read."""
    rows: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    for chunk in id_chunks([s.customer_vid(c) for c in customer_ids]):
        if chunk:
            for found in get_g().V(*many_ids(chunk)).out(s.PERFORMED).element_map().to_list():
                rows.append(_row(found))
                if "categories" in found:
                    contacts.append(_contact(found, rows[-1]))
    return rows, contacts


def _contact(found: dict[Any, Any], row: dict[str, Any]) -> dict[str, Any]:
    def number(key: str) -> float | None:
        value = found.get(key)
        return None if value is None else float(value)
    return {"event_id": row["event_id"], "customer_id": row["customer_id"], "ts": row["ts"],
            "sentiment_customer": number("sentiment_customer"), "sentiment_agent": number("sentiment_agent"),
            "sentiment_change": number("sentiment_change"), "categories": json.loads(found["categories"] or "[]")}


def events_by_ids(event_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The accepted events among these ids (an id the graph does not hold, or holds without its
    `performed` edge, is left out)."""
    rows: list[dict[str, Any]] = []
    for chunk in id_chunks([s.event_vid(e) for e in event_ids]):
        if chunk:
            rows += [_row(r) for r in get_g().V(*many_ids(chunk)).has_label(s.EVENT)
                     .filter_(__.in_e(s.PERFORMED)).element_map().to_list()]
    return rows


def customer_merges() -> list[dict[str, Any]]:
    """Every `merged_into` edge as {customer_id, into, ts, rule}: the identity table's source."""
    rows = (get_g().E().has_label(s.MERGED_INTO).project("c", "into", "ts", "rule")
            .by(__.out_v().values("customer_id")).by(__.in_v().values("customer_id"))
            .by(__.coalesce(__.values("ts"), __.constant(0)))
            .by(__.coalesce(__.values("rule"), __.constant(""))).to_list())
    return [{"customer_id": r["c"], "into": r["into"], "ts": int(r["ts"]) or None, "rule": r["rule"] or None}
            for r in rows]


def _row(row: dict[Any, Any]) -> dict[str, Any]:
    vid = str(row.get(T.id, row.get("id")))
    return {"event_id": s.strip_prefix(vid), "customer_id": row.get("customer_id", ""),
            "type": row.get("type", ""), "channel": row.get("channel", ""), "ts": int(row.get("ts", 0)),
            "seq": int(row.get("seq", 0)), "intent": row.get("intent") or None,
            "outcome": row.get("outcome") or None, "source": row.get("source") or None,
            "attributes": row.get("attributes") or "{}"}


UPDATABLE = ("type", "channel", "intent", "outcome", "attributes")


def update_changed(records: Sequence[s.EventRecord]) -> list[dict[str, Any]]:
    """Events already in the store whose type, channel, intent, outcome or attributes differ from these
    records (a source that sends a record again after updating it, as Amazon Connect re-delivers a
    contact record) take the records' values; time, customer and arrival order stay. Returns the
    updated events' rows as `events_by_ids` gives them (after the update)."""
    stored = {row["event_id"]: row for row in events_by_ids([r.event_id for r in records])}
    changes = []
    for record in {r.event_id: r for r in records}.values():
        row = stored.get(record.event_id)
        if row is None:
            continue
        wanted = {"type": record.type, "channel": record.channel, "intent": record.intent or None,
                  "outcome": record.outcome or None, "attributes": s.attributes_json(record.attributes)}
        changed = {k: v for k, v in wanted.items() if v is not None and v != row[k]}
        if changed:
            changes.append({"k": {T.id: s.event_vid(record.event_id), T.label: s.EVENT}, "m": changed})
    run_writes([get_g().inject(bulk_rows(list(chunk))).unfold().as_("r").merge_v(__.select("k"))
                .option(Merge.on_match, __.select("r").select("m")) for chunk in chunks(changes)])
    return events_by_ids([s.strip_prefix(str(c["k"][T.id])) for c in changes]) if changes else []
