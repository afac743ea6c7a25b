"""Reads of the journey graph (and the small writes that go with them: attributes, scores, milestone
reaches). The batched event write path lives in `graph.journey_writes` and is re-exported here, so
callers keep one module to import.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from gremlin_python.process.graph_traversal import GraphTraversal, __
from gremlin_python.process.traversal import Merge, Order, P, T, TextP

from graph import schema as s
from graph.connection import bulk_rows, get_g, many_ids, run_writes
from graph.contacts import contact_summary
from graph.journey_writes import (  # noqa: F401 - the public write API, re-exported
    IdentifierLink,
    Resolver,
    _chunks,
    _merge_edges,
    _merge_vertices,
    identifier_links,
    named_customers,
    rebuild_next_chains,
    write_event_batches,
    write_events,
)
from graph.write_plan import WritePlan, apply_plan

EVENT_COLUMNS = ["customer_id", "event_id", "type", "channel", "ts", "intent", "outcome", "attributes"]


def set_customer_attributes(customer_id: str, attributes: dict[str, Any]) -> None:
    """Replace a customer's free attributes (segment, name, …), stored as JSON."""
    (get_g().V(s.customer_vid(customer_id)).property("attributes", json.dumps(attributes, sort_keys=True))
     .iterate())


def set_many_customer_attributes(attributes_by_customer: dict[str, dict[str, Any]]) -> None:
    """The batched form of `set_customer_attributes` (one traversal per chunk); customers must exist."""
    rows = [{"k": {T.id: s.customer_vid(c), T.label: s.CUSTOMER}, "m": {"attributes": json.dumps(a, sort_keys=True)}}
            for c, a in attributes_by_customer.items()]
    for chunk in _chunks(rows):
        (get_g().inject(bulk_rows(list(chunk))).unfold().as_("r").merge_v(__.select("k"))
         .option(Merge.on_match, __.select("r").select("m")).iterate())


# ---------------------------------------------------------------- reads


@dataclass(frozen=True)
class CustomerSummary:
    customer_id: str
    first_seen: int
    last_seen: int
    attributes: dict[str, Any]
    identifiers: list[dict[str, Any]]
    events_by_channel: dict[str, int]
    event_count: int
    scores: dict[str, float] = field(default_factory=dict)  # stored model scores (`<model>_score` properties)


def customer_summary(customer_id: str) -> CustomerSummary | None:
    rows = (get_g().V(s.customer_vid(customer_id)).has_label(s.CUSTOMER)
            .project("props", "ids", "channels")
            .by(__.value_map())
            .by(__.out_e(s.HAS_IDENTIFIER).project("kind", "value", "first_seen")
                .by(__.in_v().values("kind")).by(__.in_v().values("value")).by("first_seen").fold())
            .by(__.out(s.PERFORMED).group_count().by("channel")).to_list())
    if not rows:
        return None
    props = {k: v[0] for k, v in rows[0]["props"].items()}
    identifiers = sorted(rows[0]["ids"], key=lambda i: (i["kind"], i["value"]))
    channels = dict(sorted(rows[0]["channels"].items()))
    return CustomerSummary(customer_id=customer_id, first_seen=props["first_seen"], last_seen=props["last_seen"],
                           attributes=json.loads(props.get("attributes") or "{}"), identifiers=identifiers,
                           events_by_channel=channels, event_count=sum(channels.values()),
                           scores={k: float(v) for k, v in props.items() if k.endswith("_score")})


@dataclass(frozen=True)
class CustomerRow:
    """A customer as a list shows it: the summary without identifiers, plus the type of the latest
    event (in timeline order: time, arrival, event id)."""

    customer_id: str
    first_seen: int
    last_seen: int
    attributes: dict[str, Any]
    events_by_channel: dict[str, int]
    event_count: int
    scores: dict[str, float]
    latest_type: str


def customer_rows(customer_ids: Sequence[str] | None = None, *, offset: int = 0, limit: int = 50,
                  after: str | None = None, before: str | None = None) -> list[CustomerRow]:
    """One read for a page of customers: these ids (in the order given; unknown ones left out), or a
    page of all customers by id — from `offset`, or (keyset) the `limit` ids after `after` / before
    `before` (see `_id_page`)."""
    if customer_ids is not None and not customer_ids:
        return []
    start = (get_g().V(*many_ids([s.customer_vid(c) for c in customer_ids])).has_label(s.CUSTOMER)
             if customer_ids is not None else _id_page(offset=offset, limit=limit, after=after, before=before))
    rows = (start.project("props", "channels", "latest").by(__.value_map())
            .by(__.out(s.PERFORMED).group_count().by("channel"))
            .by(__.out_e(s.PERFORMED).order().by("ts", Order.desc)
                .by(__.coalesce(__.values("seq"), __.constant(0)), Order.desc).by(__.in_v().id_(), Order.desc)
                .limit(1).in_v().values("type").fold()).to_list())
    found = [_customer_row(row) for row in rows]
    if customer_ids is None:
        return found[::-1] if before is not None and after is None else found
    by_id = {row.customer_id: row for row in found}
    return [by_id[c] for c in customer_ids if c in by_id]


def _customer_row(row: dict[str, Any]) -> CustomerRow:
    props = {k: v[0] for k, v in row["props"].items()}
    channels = dict(sorted(row["channels"].items()))
    return CustomerRow(customer_id=str(props["customer_id"]), first_seen=props["first_seen"],
                       last_seen=props["last_seen"], attributes=json.loads(props.get("attributes") or "{}"),
                       events_by_channel=channels, event_count=sum(channels.values()),
                       scores={k: float(v) for k, v in props.items() if k.endswith("_score")},
                       latest_type=str(row["latest"][0]) if row["latest"] else "")


def customer_exists(customer_id: str) -> bool:
    return bool(get_g().V(s.customer_vid(customer_id)).has_label(s.CUSTOMER).count().next())


def customer_event_count(customer_id: str) -> int:
    return int(get_g().V(s.customer_vid(customer_id)).out_e(s.PERFORMED).count().next())


def customer_events(customer_id: str, *, offset: int = 0, limit: int = 50, newest_first: bool = False
                    ) -> list[dict[str, Any]]:
    """A page of a customer's events in time order (oldest first unless `newest_first`). Equal times
    keep their arrival order (`seq`, then event id), so pages never overlap or skip and the newest-first
    pages are exactly the oldest-first ones reversed."""
    order = Order.desc if newest_first else Order.asc
    rows = (get_g().V(s.customer_vid(customer_id)).out_e(s.PERFORMED).order().by("ts", order)
            .by(__.coalesce(__.values("seq"), __.constant(0)), order).by(__.in_v().id_(), order)
            .range_(offset, offset + limit).in_v().element_map().to_list())
    return [_event_row(row) for row in rows]


def recent_events(customer_id: str, limit: int = 20) -> list[dict[str, Any]]:
    return customer_events(customer_id, limit=limit, newest_first=True)


def _event_row(row: dict[Any, Any]) -> dict[str, Any]:
    vid = row.get(T.id, row.get("id"))
    return {"event_id": s.strip_prefix(str(vid)), "customer_id": row.get("customer_id", ""),
            "type": row.get("type", ""), "channel": row.get("channel", ""), "ts": row.get("ts", 0),
            "seq": row.get("seq", 0),
            "source": row.get("source", ""), "intent": row.get("intent"), "outcome": row.get("outcome"),
            "attributes": json.loads(row.get("attributes") or "{}"), **contact_summary(row)}


def customers_by_identifier(kind: str, value: str) -> list[str]:
    return sorted(get_g().V(s.identifier_vid(kind, value)).in_(s.HAS_IDENTIFIER).values("customer_id").to_list())


def customer_ids(*, offset: int = 0, limit: int = 50, after: str | None = None, before: str | None = None
                 ) -> list[str]:
    """A page of customer ids in id order: from `offset`, or the `limit` ids after `after` (or before
    `before`, still returned in id order)."""
    ids = _id_page(offset=offset, limit=limit, after=after, before=before).values("customer_id").to_list()
    return ids[::-1] if before is not None and after is None else ids


def _id_page(*, offset: int, limit: int, after: str | None, before: str | None) -> Any:
    """Customers by id, a page at a time. With `after` (or `before`) the page starts past a known id
    (keyset): the store filters on the id before it sorts, and stops at `limit`, instead of sorting
    every customer to skip `offset` of them; `before` reads backwards (callers reverse it)."""
    customers = get_g().V().has_label(s.CUSTOMER)
    if after is not None:
        return customers.has("customer_id", P.gt(after)).order().by("customer_id").limit(limit)
    if before is not None:
        return customers.has("customer_id", P.lt(before)).order().by("customer_id", Order.desc).limit(limit)
    return customers.order().by("customer_id").range_(offset, offset + limit)


def customer_count(score: str | None = None) -> int:
    """Customers in the store, or those holding a stored score: the total of a page of customer_ids()
    or customers_by_score()."""
    customers = get_g().V().has_label(s.CUSTOMER)
    return int((customers.has(score) if score else customers).count().next())


def graph_counts() -> dict[str, int]:
    counts = get_g().V().group_count().by(T.label).next()
    return {label: int(counts.get(label, 0)) for label in (s.CUSTOMER, s.IDENTIFIER, s.EVENT, s.MILESTONE)}


def latest_activity_ms() -> int | None:
    """When the latest event in the store happened (the customers' greatest last_seen), or None."""
    latest = get_g().V().has_label(s.CUSTOMER).values("last_seen").max_().to_list()
    return int(latest[0]) if latest else None


def active_customer_count(days: int = 30) -> int:
    """Customers last seen within `days` of the latest activity in the store (relative to the data, not
    the clock, so a historical load still shows who was active at its end)."""
    latest = get_g().V().has_label(s.CUSTOMER).values("last_seen").max_().to_list()
    if not latest:
        return 0
    since = int(latest[0]) - days * 86_400_000
    return int(get_g().V().has_label(s.CUSTOMER).has("last_seen", P.gte(since)).count().next())


def events_frame(*, customer_ids: Sequence[str] | None = None, since_ms: int | None = None,
                 until_ms: int | None = None, types: Sequence[str] | None = None) -> pd.DataFrame:
    """Every event (or those of some customers / a time window) as the canonical DataFrame. With
    `types`, only events of those types, and only their customer, type and time (channel, intent,
    outcome and attributes are left empty)."""
    window = (since_ms, until_ms, list(types) if types is not None else None)
    if customer_ids is not None:
        rows: list[dict[str, Any]] = []
        for chunk in _chunks([s.customer_vid(c) for c in customer_ids]):
            rows.extend(_event_rows(get_g().V(*many_ids(list(chunk))).out(s.PERFORMED), *window))
    else:
        rows = _event_rows(get_g().V().has_label(s.EVENT), *window)
    return _frame(rows)


def _event_rows(traversal: Any, since_ms: int | None, until_ms: int | None,
                types: list[str] | None) -> list[dict[str, Any]]:
    if since_ms is not None:
        traversal = traversal.has("ts", P.gte(since_ms))
    if until_ms is not None:
        traversal = traversal.has("ts", P.lt(until_ms))
    if types is None:
        return traversal.element_map().to_list()
    # a read by type serves sequence matching, which needs only who, what and when
    return traversal.has("type", P.within(types)).element_map("customer_id", "type", "ts").to_list()


def records_frame(records: Sequence[s.EventRecord]) -> pd.DataFrame:
    """Events that were just written, as the canonical DataFrame `events_frame` would read back
    (without the round trip through the store)."""
    records = sorted(records, key=lambda r: (r.customer_id, r.ts, r.event_id))  # cheaper than pandas on text
    columns = {
        "customer_id": [r.customer_id for r in records],
        "event_id": [r.event_id for r in records],
        "type": [r.type for r in records],
        "channel": [r.channel for r in records],
        "ts": pd.array([r.ts for r in records], dtype="int64"),
        "intent": [r.intent for r in records],
        "outcome": [r.outcome for r in records],
        "attributes": [r.attributes for r in records],
    }
    return _canonical(columns, ordered=True)


def _frame(rows: list[dict[Any, Any]]) -> pd.DataFrame:
    """Column by column: much faster than a dict per row for the hundreds of thousands of events
    analyzers read; attributes are decoded in one JSON parse."""
    ids = [r.get(T.id, r.get("id")) for r in rows]
    attributes = json.loads("[" + ",".join(r.get("attributes") or "{}" for r in rows) + "]")
    columns = {
        "customer_id": [r.get("customer_id", "") for r in rows],
        "event_id": [str(v).split(":", 1)[1] for v in ids],
        "type": [r.get("type", "") for r in rows],
        "channel": [r.get("channel", "") for r in rows],
        "ts": pd.array([r.get("ts", 0) for r in rows], dtype="int64"),
        "intent": [r.get("intent") for r in rows],
        "outcome": [r.get("outcome") for r in rows],
        "attributes": attributes,
    }
    return _canonical(columns)


def _canonical(columns: dict[str, Any], *, ordered: bool = False) -> pd.DataFrame:
    frame = pd.DataFrame({k: (v if k == "ts" else pd.array(v, dtype=object)) for k, v in columns.items()},
                         columns=EVENT_COLUMNS)
    if ordered:
        return frame
    return frame.sort_values(["customer_id", "ts", "event_id"], kind="stable").reset_index(drop=True)


def next_chain(customer_id: str) -> list[tuple[str, str, int]]:
    """The customer's `next` edges as (from event id, to event id, gap ms), in chain order."""
    rows = (get_g().V(s.customer_vid(customer_id)).out(s.PERFORMED).out_e(s.NEXT).project("a", "b", "gap", "ts", "q")
            .by(__.out_v().id_()).by(__.in_v().id_()).by("gap_ms").by(__.out_v().values("ts"))
            .by(__.out_v().coalesce(__.values("seq"), __.constant(0))).to_list())
    rows.sort(key=lambda r: (r["ts"], r["q"], r["a"]))
    return [(s.strip_prefix(r["a"]), s.strip_prefix(r["b"]), r["gap"]) for r in rows]


# ---------------------------------------------------------------- milestones and customer attributes


def add_reached(customer_id: str, milestone_slug: str, ts: int, event_id: str, name: str = "") -> None:
    """Record that a customer reached a milestone; the first edge wins (mergeE sets on create only)."""
    add_reached_many(milestone_slug, [(customer_id, ts, event_id)], name=name)


def add_reached_many(milestone_slug: str, reaches: Sequence[tuple[str, int, str]], name: str = "") -> None:
    """Batched `add_reached` for (customer id, ts, event id) rows of one milestone."""
    milestone = s.milestone_vid(milestone_slug)
    _merge_vertices([{T.id: milestone, T.label: s.MILESTONE, "name": name or milestone_slug}])
    rows = {s.customer_vid(customer_id): (ts, event_id) for customer_id, ts, event_id in reaches}
    have: set[str] = set()
    for chunk in _chunks(sorted(rows)):
        have.update(get_g().V(*many_ids(list(chunk))).out_e(s.REACHED).where(__.in_v().has_id(milestone))
                    .out_v().id_().to_list())
    # known-missing edges take the plain (cheaper) write path; a reach is written once
    apply_plan(WritePlan(edges=[(s.REACHED, vid, milestone, {"ts": ts, "event_id": event_id})
                                for vid, (ts, event_id) in rows.items() if vid not in have]))


def reached_customers(milestone_slug: str) -> dict[str, int]:
    """Customers who reached a milestone, with the time they reached it (epoch ms)."""
    rows = (get_g().V(s.milestone_vid(milestone_slug)).in_e(s.REACHED).project("c", "ts")
            .by(__.out_v().values("customer_id")).by("ts").to_list())
    return {row["c"]: row["ts"] for row in rows}


def customer_attributes(customer_ids: Sequence[str] | None = None, *,
                        mentioning: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Free attributes (segment, …) of some or all customers. With `mentioning` (attribute → value as
    text) only of the customers whose stored attributes name every attribute and hold its value's text
    (`attribute_texts`): the store leaves the others out, so a filter on a rare value does not read and
    decode every customer's attributes. Still a superset: the caller compares the values themselves."""
    if customer_ids is None:
        traversals = [get_g().V().has_label(s.CUSTOMER)]
    else:
        traversals = [get_g().V(*many_ids([s.customer_vid(c) for c in chunk])).has_label(s.CUSTOMER)
                      for chunk in _chunks(list(customer_ids))]
    for key, value in (mentioning or {}).items():
        names, values = attribute_texts(key), attribute_texts(value, value=True)
        traversals = [_holding_any(_holding_any(t, names), values) for t in traversals]
    out: dict[str, dict[str, Any]] = {}
    for traversal in traversals:
        for row in traversal.project("c", "a").by("customer_id").by("attributes").to_list():
            out[row["c"]] = json.loads(row["a"] or "{}")
    return out


def attribute_texts(text: str, *, value: bool = False) -> set[str]:
    """The texts one of which customers' stored attributes (JSON) hold when they name the attribute
    `text`, or (`value`) when an attribute's value reads as `text` (its `str()`, as filters compare
    it): the JSON string, with and without non-ASCII characters escaped, and for a value also the
    number, flag or null JSON writes for it. A value that reads as a list or a map adds no text of its
    own (JSON and Python write them differently), so only its attribute's name narrows the read."""
    texts = {json.dumps(text), json.dumps(text, ensure_ascii=False)}
    if not value:
        return texts
    if text.startswith(("[", "{")):
        return set()
    texts |= {literal for python, literal in (("True", "true"), ("False", "false"), ("None", "null"))
              if text == python}
    try:
        number = float(text)
    except ValueError:
        return texts
    return texts | {text, json.dumps(number)}  # 5 and 5.0 as written; inf as JSON's Infinity


def _holding_any(traversal: GraphTraversal, texts: set[str]) -> GraphTraversal:
    """Customers whose attributes hold one of `texts` (all of them when there is none to look for)."""
    if len(texts) <= 1:
        return traversal.has("attributes", TextP.containing(next(iter(texts)))) if texts else traversal
    return traversal.or_(*[__.has("attributes", TextP.containing(t)) for t in sorted(texts)])


SCORE_SUFFIX = "_score"


def set_customer_scores(scores: dict[str, dict[str, float]]) -> None:
    """Write model scores onto customer vertices as plain properties (`churn_score`, …), so lists
    can be ordered by them in the store; customers that do not exist are skipped."""
    for name in {n for values in scores.values() for n in values}:
        if not name.endswith(SCORE_SUFFIX):
            raise ValueError(f"score property {name!r} must end with {SCORE_SUFFIX!r}")
    known = set(customer_attributes(list(scores)))
    rows = [{"k": {T.id: s.customer_vid(c), T.label: s.CUSTOMER}, "m": {k: float(v) for k, v in values.items()}}
            for c, values in scores.items() if c in known]
    run_writes([get_g().inject(bulk_rows(list(chunk))).unfold().as_("r").merge_v(__.select("k"))
                .option(Merge.on_match, __.select("r").select("m")) for chunk in _chunks(rows)])


def customers_by_score(score: str, *, limit: int = 50, offset: int = 0, descending: bool = True
                       ) -> list[tuple[str, float]]:
    """Customers ordered by a stored score (highest first by default), with the score."""
    order = Order.desc if descending else Order.asc
    rows = (get_g().V().has_label(s.CUSTOMER).has(score).order().by(score, order).by("customer_id", Order.asc)
            .range_(offset, offset + limit).project("c", "v").by("customer_id").by(score).to_list())
    return [(row["c"], row["v"]) for row in rows]


def customer_facts(customer_ids: Sequence[str] | None = None) -> dict[str, dict[str, list[tuple[str, int]]]]:
    """Milestones reached and identifier kinds of some or all customers, with their times, for journey
    features: {customer_id: {"milestones": [(slug, ts)], "identifiers": [(kind, first_seen)]}}."""
    starts = ([get_g().V().has_label(s.CUSTOMER)] if customer_ids is None else
              [get_g().V(*many_ids([s.customer_vid(c) for c in chunk])).has_label(s.CUSTOMER)
               for chunk in _chunks(list(customer_ids))])
    out: dict[str, dict[str, list[tuple[str, int]]]] = {}
    for start in starts:
        rows = (start.project("c", "m", "i")
                .by("customer_id")
                .by(__.out_e(s.REACHED).project("k", "t").by(__.in_v().id_())
                    .by(__.coalesce(__.values("ts"), __.constant(0))).fold())
                .by(__.out_e(s.HAS_IDENTIFIER).project("k", "t").by(__.in_v().values("kind"))
                    .by(__.coalesce(__.values("first_seen"), __.constant(0))).fold())
                .to_list())
        for row in rows:
            out[row["c"]] = {"milestones": [(s.strip_prefix(str(m["k"])), int(m["t"])) for m in row["m"]],
                             "identifiers": [(str(i["k"]), int(i["t"])) for i in row["i"]]}
    return out
