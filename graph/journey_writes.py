"""Writes of the journey graph: customers, identifiers, events and their next-chains.

Writes are batched upserts (mergeV/mergeE through inject().unfold()), idempotent by id, so a batch
interrupted half way can simply be run again. Everything a batch needs is read first and the writes
are planned in Python, then sent as one list of traversals (one atomic unit on the embedded store).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import Direction, Merge, Order, P, T

from graph import schema as s
from graph.connection import bulk_rows, get_g, run_writes

IDENTITY_PRECEDENCE = {"account": 0, "phone": 1, "email": 2, "connect_profile": 3, "device": 4, "cookie": 5}
CHUNK = 500


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# ---------------------------------------------------------------- identity resolution


def linked_customers(identifier_vids: Sequence[str]) -> dict[str, str]:
    """identifier vertex id → the customer it was first linked to (earliest first_seen, then id)."""
    best: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(list(identifier_vids)):
        rows = (get_g().V(*chunk).has_label(s.IDENTIFIER).in_e(s.HAS_IDENTIFIER).project("i", "c", "t")
                .by(__.in_v().id_()).by(__.out_v().values("customer_id")).by("first_seen").to_list())
        for row in rows:
            candidate = (row["t"], row["c"])
            best[row["i"]] = min(best.get(row["i"], candidate), candidate)
    return {vid: customer for vid, (_, customer) in best.items()}


def resolve_customers(records: Sequence[s.EventRecord]) -> list[str]:
    """Deterministic identity: an explicit customer id wins; otherwise the customer already linked to
    the event's strongest identifier; otherwise a new customer named after that identifier."""
    wanted = {s.identifier_vid(k, v) for r in records for k, v in r.identifiers}
    links = linked_customers(sorted(wanted))
    resolved = []
    for record in records:
        ranked = sorted(record.identifiers, key=lambda kv: IDENTITY_PRECEDENCE.get(kv[0], 9))
        customer = record.customer_id or next(
            (links[vid] for vid in (s.identifier_vid(k, v) for k, v in ranked) if vid in links), "")
        if not customer:
            kind, value = ranked[0]
            customer = f"{kind}:{value}"
        for kind, value in record.identifiers:
            links.setdefault(s.identifier_vid(kind, value), customer)
        resolved.append(customer)
    return resolved


# ---------------------------------------------------------------- writes


def existing_events(event_ids: Sequence[str]) -> set[str]:
    """Events already fully written (vertex and its performed edge): the idempotency check."""
    found: set[str] = set()
    for chunk in _chunks([s.event_vid(e) for e in event_ids]):
        found.update(get_g().V(*chunk).where(__.in_e(s.PERFORMED)).id_().to_list())
    return {s.strip_prefix(v) for v in found}


def write_events(records: Sequence[s.EventRecord]) -> s.WriteReport:
    """Upsert one batch of events with their customers, identifiers and next-chains.

    Everything is read first and the writes are planned in Python, so the batch goes to the store
    as one list of traversals (one atomic unit on the embedded store)."""
    seen = existing_events([r.event_id for r in records])
    fresh: dict[str, s.EventRecord] = {}
    for record in records:
        if record.event_id not in seen and record.event_id not in fresh:
            fresh[record.event_id] = record
    new = list(fresh.values())
    customers = resolve_customers(new)
    touched = sorted(set(customers))
    earliest: dict[str, int] = {}
    for record, customer in zip(new, customers, strict=True):
        earliest[customer] = min(earliest.get(customer, record.ts), record.ts)
    state = _read_state(touched, since_ms=min(earliest.values(), default=None), earliest=earliest)
    writes, created = _customer_writes(new, customers, state.spans)
    writes += _identifier_writes(new, customers, state.identifier_links)
    event_vertices, performed = _event_writes(new, customers)
    # performed edges go last: an event counts as written once it has one, so a remote batch cut
    # short anywhere before that is simply written again on the next run.
    writes += event_vertices + _chain_writes(state, new, customers) + performed
    run_writes(writes)
    return s.WriteReport(loaded=len(new), duplicates=len(records) - len(new), customers=tuple(touched),
                         customers_created=created)


@dataclass
class _State:
    """What the store holds for the customers a batch touches."""

    spans: dict[str, tuple[int, int, str]]
    identifier_links: set[tuple[str, str]]
    events: list[dict[str, Any]]
    links: dict[tuple[str, str], Any]


def _read_state(customer_ids: Sequence[str], *, since_ms: int | None,
                earliest: dict[str, int] | None = None) -> _State:
    """Spans, identifier links and the part of each next-chain a batch can change. A customer whose
    events all come after their last known event (time-ordered loads) needs no chain read at all:
    the customer vertex names that last event. Others get the events at or after the batch's
    earliest time plus the one event just before it."""
    state = _State(spans={}, identifier_links=set(), events=[], links={})
    g = get_g()
    for chunk in _chunks([s.customer_vid(c) for c in customer_ids]):
        for row in (g.V(*chunk).has_label(s.CUSTOMER).project("c", "f", "l", "e")
                    .by("customer_id").by("first_seen").by("last_seen")
                    .by(__.coalesce(__.values("last_event"), __.constant(""))).to_list()):
            state.spans[row["c"]] = (row["f"], row["l"], row["e"])
        for row in (g.V(*chunk).out_e(s.HAS_IDENTIFIER).project("c", "i")
                    .by(__.out_v().id_()).by(__.in_v().id_()).to_list()):
            state.identifier_links.add((row["c"], row["i"]))
        late = []
        for vid in chunk:
            customer = s.strip_prefix(vid)
            span = state.spans.get(customer)
            if span is None:
                continue
            if earliest is not None and span[2] and earliest[customer] > span[1]:
                state.events.append({"c": vid, "e": span[2], "ts": span[1]})
            else:
                late.append(vid)
        if late:
            _read_chains(state, late, since_ms)
    return state


def _read_chains(state: _State, customer_vids: Sequence[str], since_ms: int | None) -> None:
    g = get_g()
    recent = g.V(*customer_vids).out_e(s.PERFORMED)
    if since_ms is not None:
        recent = recent.has("ts", P.gte(since_ms))
    events = recent.project("c", "e", "ts").by(__.out_v().id_()).by(__.in_v().id_()).by("ts").to_list()
    if since_ms is not None:
        events += (g.V(*customer_vids).local(
            __.out_e(s.PERFORMED).has("ts", P.lt(since_ms)).order().by("ts", Order.desc)
            .by(__.in_v().id_(), Order.desc).limit(1))
            .project("c", "e", "ts").by(__.out_v().id_()).by(__.in_v().id_()).by("ts").to_list())
    state.events += events
    for chunk in _chunks([row["e"] for row in events]):
        for row in (g.V(*chunk).out_e(s.NEXT).project("id", "a", "b")
                    .by(T.id).by(__.out_v().id_()).by(__.in_v().id_()).to_list()):
            state.links[(row["a"], row["b"])] = row["id"]


def _customer_writes(records: Sequence[s.EventRecord], customers: Sequence[str],
                     current: dict[str, tuple[int, int, str]]) -> tuple[list[Any], int]:
    """New customers are created; known ones get their span and last event moved on."""
    span: dict[str, tuple[int, int, str]] = {}
    for record, customer in zip(records, customers, strict=True):
        vid = s.event_vid(record.event_id)
        lo, hi, last = span.get(customer, (record.ts, record.ts, vid))
        if (record.ts, vid) > (hi, last):
            hi, last = record.ts, vid
        span[customer] = (min(lo, record.ts), hi, last)
    created, updated = [], []
    for customer, (lo, hi, last) in span.items():
        vid = s.customer_vid(customer)
        if customer not in current:
            created.append({T.id: vid, T.label: s.CUSTOMER, "customer_id": customer, "first_seen": lo,
                            "last_seen": hi, "last_event": last, "attributes": "{}"})
            continue
        old_lo, old_hi, old_last = current[customer]
        newest = max((hi, last), (old_hi, old_last))
        if lo < old_lo or newest != (old_hi, old_last):
            updated.append({"k": {T.id: vid, T.label: s.CUSTOMER},
                            "m": {"first_seen": min(lo, old_lo), "last_seen": newest[0], "last_event": newest[1]}})
    writes = [get_g().inject(bulk_rows(list(chunk))).unfold().merge_v() for chunk in _chunks(created)]
    writes += [get_g().inject(bulk_rows(list(chunk))).unfold().as_("r").merge_v(__.select("k"))
               .option(Merge.on_match, __.select("r").select("m")) for chunk in _chunks(updated)]
    return writes, len(created)


def _identifier_writes(records: Sequence[s.EventRecord], customers: Sequence[str],
                       linked: set[tuple[str, str]]) -> list[Any]:
    """Every identifier an event carries is linked to the event's customer (shared phones and
    e-mails stay visible as identifiers with several customers: a risk signal)."""
    vertices: dict[str, dict[Any, Any]] = {}
    edges: dict[tuple[str, str], dict[Any, Any]] = {}
    for record, customer in zip(records, customers, strict=True):
        for kind, value in record.identifiers:
            vid = s.identifier_vid(kind, value)
            vertices.setdefault(vid, {T.id: vid, T.label: s.IDENTIFIER, "kind": kind, "value": value})
            if (s.customer_vid(customer), vid) in linked:
                continue
            edge = edges.setdefault((customer, vid), {
                T.label: s.HAS_IDENTIFIER, Direction.OUT: s.customer_vid(customer), Direction.IN: vid,
                "rule": "deterministic"})
            edge["first_seen"] = min(edge.get("first_seen", record.ts), record.ts)
    rows = [{"k": {T.id: v[T.id], T.label: v[T.label]}, "c": {"kind": v["kind"], "value": v["value"]}}
            for v in vertices.values()]
    writes = [get_g().inject(bulk_rows(list(chunk))).unfold().as_("r").merge_v(__.select("k"))
              .option(Merge.on_create, __.select("r").select("c")) for chunk in _chunks(rows)]
    return writes + _edge_writes(list(edges.values()))


def _event_writes(records: Sequence[s.EventRecord], customers: Sequence[str]) -> tuple[list[Any], list[Any]]:
    """Events are new (existing ones were filtered out); a vertex left behind by an interrupted
    remote batch has the same properties, so a whole-map mergeV matches it instead of duplicating."""
    vertices = [{T.id: s.event_vid(r.event_id), T.label: s.EVENT, **r.properties(c)}
                for r, c in zip(records, customers, strict=True)]
    writes = [get_g().inject(bulk_rows(list(chunk))).unfold().merge_v() for chunk in _chunks(vertices)]
    edges = [{T.label: s.PERFORMED, Direction.OUT: s.customer_vid(c), Direction.IN: s.event_vid(r.event_id),
              "ts": r.ts} for r, c in zip(records, customers, strict=True)]
    return writes, _edge_writes(edges)


def _edge_writes(edges: list[dict[Any, Any]]) -> list[Any]:
    """Edges planned here are known to be missing, so a plain mergeE of the whole map suffices."""
    return [get_g().inject(bulk_rows(list(chunk))).unfold().merge_e() for chunk in _chunks(edges)]


def _chain_writes(state: _State, records: Sequence[s.EventRecord], customers: Sequence[str]) -> list[Any]:
    """Make each touched customer's `next` edges follow its events in (ts, event id) order."""
    events = state.events + [{"c": s.customer_vid(c), "e": s.event_vid(r.event_id), "ts": r.ts}
                             for r, c in zip(records, customers, strict=True)]
    wanted = _wanted_links(events)
    stale = [edge_id for pair, edge_id in state.links.items() if pair not in wanted]
    writes = [get_g().E(*chunk).drop() for chunk in _chunks(stale)]
    return writes + _edge_writes([{T.label: s.NEXT, Direction.OUT: a, Direction.IN: b, "gap_ms": gap}
                                  for (a, b), gap in wanted.items() if (a, b) not in state.links])


def _merge_vertices(vertices: list[dict[Any, Any]]) -> None:
    """Upsert vertices now, matching on id and label and setting the other properties on create."""
    rows = [{"k": {T.id: v[T.id], T.label: v[T.label]}, "c": {k: x for k, x in v.items() if isinstance(k, str)}}
            for v in vertices]
    run_writes([get_g().inject(bulk_rows(list(chunk))).unfold().as_("r").merge_v(__.select("k"))
                .option(Merge.on_create, __.select("r").select("c")) for chunk in _chunks(rows)])


def _merge_edges(edges: list[dict[Any, Any]]) -> None:
    """Upsert edges now: one per (label, out, in), properties set on create only."""
    rows = [{"k": {k: x for k, x in e.items() if not isinstance(k, str)},
             "c": {k: x for k, x in e.items() if isinstance(k, str)}} for e in edges]
    run_writes([get_g().inject(bulk_rows(list(chunk))).unfold().as_("r").merge_e(__.select("k"))
                .option(Merge.on_create, __.select("r").select("c")) for chunk in _chunks(rows)])


def rebuild_next_chains(customer_ids: Sequence[str]) -> None:
    """Repair tool: rebuild the `next` edges of some customers from the events they have."""
    for chunk in _chunks(list(customer_ids), 200):
        run_writes(_chain_writes(_read_state(chunk, since_ms=None), [], []))


def _wanted_links(events: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    by_customer: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for row in events:
        by_customer[row["c"]].append((row["ts"], row["e"]))
    wanted: dict[tuple[str, str], int] = {}
    for items in by_customer.values():
        items.sort()
        for (ts_a, a), (ts_b, b) in zip(items, items[1:], strict=False):
            wanted[(a, b)] = ts_b - ts_a
    return wanted
