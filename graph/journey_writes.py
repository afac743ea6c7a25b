"""Writes of the journey graph: customers, identifiers, events and their next-chains.

Writes are batched upserts (mergeV/mergeE through inject().unfold()), idempotent by id, so a batch
interrupted half way can simply be run again. Everything a batch needs is read first and the writes
are planned in Python, then handed over as one write plan (one atomic unit on the embedded store).
Which customer an event belongs to is not decided here: the caller passes the identity rule
(`apps.customers.identity.resolve`), called once per batch with the links read for it.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import Merge, Order, P, T

from graph import schema as s
from graph.bulk_load import EDGE_END_MISSING, UPDATED_MISSING
from graph.connection import bulk_rows, get_connection, get_g, many_ids, run_writes
from graph.errors import GraphQueryError
from graph.write_plan import Edge, PreparedWrite, Vertex, WritePlan, apply_plan, id_chunks, prepared_write
from graph.write_plan import chunks as _chunks

Item = TypeVar("Item")
IdentifierLink = tuple[str, str, int]  # (identifier vertex id, customer id, first_seen) of a has_identifier edge
# Which customer each record belongs to, given the links its identifiers already have: the identity
# rule, decided by apps.customers.identity and passed in; the gateway only reads the links and writes.
Resolver = Callable[[Sequence[s.EventRecord], Sequence[IdentifierLink]], list[str]]


def named_customers(records: Sequence[s.EventRecord], links: Sequence[IdentifierLink]) -> list[str]:
    """No identity rule: every record goes to the customer it names (its identifiers are linked to
    that customer). A record naming none cannot be written without a rule."""
    for record in records:
        if not record.customer_id:
            raise ValueError(f"event {record.event_id!r} names no customer: write it with an identity rule "
                             "(apps.customers.identity.resolve)")
    return [record.customer_id for record in records]


# ---------------------------------------------------------------- identity reads


def identifier_links(identifier_vids: Sequence[str]) -> list[IdentifierLink]:
    """(identifier vertex id, customer id, first_seen) for every link of these identifiers."""
    rows: list[IdentifierLink] = []
    for chunk in id_chunks(identifier_vids):
        rows += [(row["i"], row["c"], row["t"]) for row in (
            get_g().V(*many_ids(chunk)).has_label(s.IDENTIFIER).in_e(s.HAS_IDENTIFIER).project("i", "c", "t")
            .by(__.in_v().id_()).by(__.out_v().values("customer_id")).by("first_seen").to_list())]
    return rows


# ---------------------------------------------------------------- writes


def _mentioned(vertex_ids: Sequence[str]) -> tuple[set[str], set[str], list[tuple[str, str, int]]]:
    """One read for every vertex a batch mentions: those that exist, those of them that have a
    performed edge (events fully written), and the customer links of identifiers (as
    `identifier_links` gives them)."""
    found: set[str] = set()
    written: set[str] = set()
    links: list[tuple[str, str, int]] = []
    for chunk in id_chunks(vertex_ids):
        for row in (get_g().V(*many_ids(chunk)).project("v", "w", "l").by(T.id)
                    .by(__.in_e(s.PERFORMED).limit(1).count())
                    .by(__.in_e(s.HAS_IDENTIFIER).project("c", "t").by(__.out_v().values("customer_id"))
                        .by("first_seen").fold()).to_list()):
            found.add(row["v"])
            if row["w"]:
                written.add(row["v"])
            links += [(row["v"], link["c"], link["t"]) for link in row["l"]]
    return found, written, links


def write_events(records: Sequence[s.EventRecord], resolve: Resolver = named_customers) -> s.WriteReport:
    """Upsert one batch of events with their customers, identifiers and next-chains; `resolve` says
    which customer each new event belongs to (called once per batch with the links its identifiers
    have).

    Everything is read first and the writes are planned in Python, so the batch goes to the store
    as one plan (one atomic unit on the embedded store)."""
    try:
        return _applied(_planned(_read(records, resolve)))
    except GraphQueryError as exc:
        if not _store_changed(exc):
            raise
        return _applied(_planned(_read(records, resolve)))  # the span memory is gone: everything is read again


@dataclass
class _Pending:
    """What a planned batch will add, for reading the next batch before this one is written."""

    events: set[str] = field(default_factory=set)
    identifiers: set[str] = field(default_factory=set)
    links: list[tuple[str, str, int]] = field(default_factory=list)
    customers: set[str] = field(default_factory=set)


@dataclass
class _Read:
    """One batch and what the store (plus the batch planned before it) holds for it."""

    records: Sequence[s.EventRecord]
    new: list[s.EventRecord]
    customers: list[str]
    present: set[str]
    state: _State
    existing_identifiers: set[str]


@dataclass
class _Planned:
    write: PreparedWrite
    report: s.WriteReport
    pending: _Pending


def _read(records: Sequence[s.EventRecord], resolve: Resolver, pending: _Pending | None = None,
          before_chains: Callable[[], None] | None = None) -> _Read:
    """Everything a batch's plan needs from the store, as if `pending` (planned, not yet written)
    were there. Chains of customers the pending batch touches cannot be read that way: when a late
    event needs one, `before_chains` is called first to get the pending batch written."""
    pending = pending or _Pending()
    memory = _span_memory() or {}
    vids = [s.event_vid(r.event_id) for r in records]
    named = {r.customer_id for r in records if r.customer_id and r.customer_id not in memory}
    carried = {s.identifier_vid(k, v) for r in records for k, v in r.identifiers}
    found, written, carried_links = _mentioned([*vids, *carried, *map(s.customer_vid, named)])
    present = found.intersection(vids)  # in a first load: none
    seen = {s.strip_prefix(v) for v in written | (pending.events & set(vids))}
    fresh: dict[str, s.EventRecord] = {}
    for record in records:
        if record.event_id not in seen and record.event_id not in fresh:
            fresh[record.event_id] = record
    new = list(fresh.values())
    identifiers = sorted({s.identifier_vid(k, v) for r in new for k, v in r.identifiers})
    wanted = set(identifiers)
    links = [link for link in carried_links + pending.links if link[0] in wanted]
    customers = resolve(new, links)
    earliest: dict[str, int] = {}
    for record, customer in zip(new, customers, strict=True):
        earliest[customer] = min(earliest.get(customer, record.ts), record.ts)
    if before_chains is not None and _late(pending.customers.intersection(earliest), earliest):
        before_chains()
    absent = {c for c in named if s.customer_vid(c) not in found}
    state = _read_state(sorted(earliest), since_ms=min(earliest.values(), default=None), earliest=earliest,
                        absent=absent)
    state.identifier_links = {(s.customer_vid(c), i) for i, c, _ in links}
    existing = found.intersection(identifiers) | pending.identifiers.intersection(identifiers)
    return _Read(records=records, new=new, customers=customers, present=present, state=state,
                 existing_identifiers=existing)


def _late(customer_ids: Iterable[str], earliest: dict[str, int]) -> list[str]:
    """Those customers whose chain must be read: the batch has an event at or before their last
    known one (a time-ordered load appends after the last event the customer vertex names)."""
    memory = _span_memory() or {}
    return [c for c in customer_ids if c not in memory or not _appends(memory[c], earliest[c])]


def _appends(span: tuple[int, int, str], earliest: int) -> bool:
    return bool(span[2]) and earliest > span[1]


def _planned(read: _Read) -> _Planned:
    """The batch's write plan. The spans it sets are remembered at once (the next batch is planned
    on top of this one) and forgotten if the write fails (`_applied`)."""
    new, customers, state = read.new, read.customers, read.state
    plan = WritePlan()
    created = _plan_customers(plan, new, customers, state.spans, state.events)
    identifier_edges = _plan_identifiers(plan, new, customers, state.identifier_links)
    performed = _plan_events(plan, new, customers)
    plan.existing_identifiers = read.existing_identifiers
    plan.orphan_events = {v[0] for v in plan.events if v[0] in read.present}
    # performed edges go last: an event counts as written once it has one, so a remote batch cut
    # short anywhere before that is simply written again on the next run.
    plan.edges = identifier_edges + _plan_chains(plan, state, new, customers) + performed
    _remember_spans(plan)
    events = tuple(r if r.customer_id == c else replace(r, customer_id=c) for r, c in zip(new, customers, strict=True))
    report = s.WriteReport(loaded=len(new), duplicates=len(read.records) - len(new),
                           customers=tuple(sorted(set(customers))), customers_created=created, events=events)
    pending = _Pending(events={v[0] for v in plan.events}, identifiers={v[0] for v in plan.identifiers},
                       links=[(in_v, s.strip_prefix(out_v), props["first_seen"])
                              for label, out_v, in_v, props in plan.edges if label == s.HAS_IDENTIFIER],
                       customers=set(report.customers))
    return _Planned(write=prepared_write(plan), report=report, pending=pending)


def _applied(planned: _Planned) -> s.WriteReport:
    try:
        planned.write.run()
    except BaseException:
        _forget_spans()  # the memory holds spans that were never written
        raise
    return planned.report


def _store_changed(exc: GraphQueryError) -> bool:
    """The embedded store changed behind this process's back (a vertex it remembered was dropped)."""
    return _span_memory() is not None and any(reason in str(exc) for reason in (UPDATED_MISSING, EDGE_END_MISSING))


def write_event_batches(batches: Iterable[Item], records_of: Callable[[Item], Sequence[s.EventRecord]],
                        resolve: Resolver = named_customers) -> Iterator[tuple[Item, s.WriteReport | None]]:
    """`write_events` over a stream of batches, each yielded in order with its report (None for a
    batch without records) once it is written. On the embedded store the next batch is read and
    planned while the engine writes the one before (it releases the interpreter lock), which is
    most of a bulk load's time; other stores write one batch after another."""
    if _span_memory() is None:
        for item in batches:
            records = records_of(item)
            yield item, write_events(records, resolve) if records else None
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph-write") as writer:
        yield from _WritePipeline(writer, records_of, resolve).run(batches)


class _WritePipeline(Generic[Item]):
    """Batch k is read (seeing batch k-1, planned, as if written), then k-1 goes to the engine, then
    k is planned while the engine works. When the write of k-1 fails because the store changed
    behind the process's back, k-1 is written again the plain way and k is read and planned again."""

    def __init__(self, writer: ThreadPoolExecutor, records_of: Callable[[Item], Sequence[s.EventRecord]],
                 resolve: Resolver) -> None:
        self.writer = writer
        self.records_of = records_of
        self.resolve = resolve
        self.waiting: tuple[Item, _Planned] | None = None
        self.running: tuple[Item, _Planned, Future[s.WriteReport]] | None = None

    def run(self, batches: Iterable[Item]) -> Iterator[tuple[Item, s.WriteReport | None]]:
        finished = False
        try:
            for item in batches:
                records = self.records_of(item)
                read = _read(records, self.resolve, self.waiting[1].pending if self.waiting else None,
                             before_chains=self._drain)
                self._start()
                self.waiting = (item, _planned(read))
                if not (yield from self._finish()):
                    self.waiting[1].write.close()
                    self.waiting = (item, _planned(_read(records, self.resolve)))
            self._start()
            yield from self._finish()
            finished = True
        finally:
            if not finished:
                self._abandon()

    def _start(self) -> None:
        """Hands the batch planned before the newest one to the engine."""
        if self.waiting is not None and self.running is None:
            item, planned = self.waiting
            self.running = (item, planned, self.writer.submit(_applied, planned))
            self.waiting = None

    def _drain(self) -> None:
        self._start()
        if self.running is not None:
            wait([self.running[2]])

    def _finish(self) -> Generator[tuple[Item, s.WriteReport | None], None, bool]:
        """Yields the running batch once written; False when it had to be written again."""
        if self.running is None:
            return True
        item, _, future = self.running
        self.running = None
        records = self.records_of(item)
        try:
            report, kept = future.result(), True
        except BaseException as exc:
            _forget_spans()  # including those of the batch planned on top of this one
            if not (isinstance(exc, GraphQueryError) and _store_changed(exc)):
                raise
            report, kept = write_events(records, self.resolve), False
        yield item, report if records else None
        return kept

    def _abandon(self) -> None:
        """Stopped part way (an error, or the consumer went away): what was planned but not written
        is let go, and the span memory, which may hold its spans, forgotten."""
        if self.running is not None:
            wait([self.running[2]])
            self.running[1].write.close()
        if self.waiting is not None:
            self.waiting[1].write.close()
        _forget_spans()


SPAN_MEMORY_LIMIT = 500_000


def _span_memory() -> dict[str, tuple[int, int, str]] | None:
    """The spans this process wrote, on the embedded store (one writing process); None elsewhere."""
    store = get_connection().embedded_store
    return store.spans if store is not None else None


def _forget_spans() -> None:
    memory = _span_memory()
    if memory is not None:
        memory.clear()


def _remember_spans(plan: WritePlan) -> None:
    memory = _span_memory()
    if memory is None:
        return
    if len(memory) > SPAN_MEMORY_LIMIT:
        memory.clear()
    for vid, _, props in plan.created:
        memory[s.strip_prefix(vid)] = (props["first_seen"], props["last_seen"], props["last_event"])
    for vid, props in plan.updates:
        memory[s.strip_prefix(vid)] = (props["first_seen"], props["last_seen"], props["last_event"])


@dataclass
class _State:
    """What the store holds for the customers a batch touches."""

    spans: dict[str, tuple[int, int, str]]
    identifier_links: set[tuple[str, str]]
    events: list[tuple[str, int, int, str]]  # (customer vertex, ts, seq, event vertex)
    links: dict[tuple[str, str], Any]


def _read_state(customer_ids: Sequence[str], *, since_ms: int | None,
                earliest: dict[str, int] | None = None, absent: set[str] | None = None) -> _State:
    """Spans and the part of each next-chain a batch can change (identifier links are read with
    the identifiers, by `_mentioned`). A customer whose
    events all come after their last known event (time-ordered loads) needs no chain read at all:
    the customer vertex names that last event. Others get the events at or after the batch's
    earliest time plus the one event just before it."""
    state = _State(spans={}, identifier_links=set(), events=[], links={})
    g = get_g()
    memory = _span_memory() or {}
    state.spans = {c: memory[c] for c in customer_ids if c in memory}
    unknown = [s.customer_vid(c) for c in customer_ids if c not in state.spans and c not in (absent or ())]
    for chunk in id_chunks(unknown):
        for row in (g.V(*many_ids(chunk)).has_label(s.CUSTOMER).project("c", "f", "l", "e")
                    .by("customer_id").by("first_seen").by("last_seen")
                    .by(__.coalesce(__.values("last_event"), __.constant(""))).to_list()):
            state.spans[row["c"]] = (row["f"], row["l"], row["e"])
    for chunk in id_chunks([s.customer_vid(c) for c in customer_ids]):
        late = []
        for vid in chunk:
            customer = s.strip_prefix(vid)
            span = state.spans.get(customer)
            if span is None:
                continue
            if earliest is not None and _appends(span, earliest[customer]):
                state.events.append((vid, span[1], 0, span[2]))  # the batch's events all come later
            else:
                late.append(vid)
        if late:
            _read_chains(state, late, since_ms)
    return state


def _read_chains(state: _State, customer_vids: Sequence[str], since_ms: int | None) -> None:
    g = get_g()
    recent = g.V(*many_ids(list(customer_vids))).out_e(s.PERFORMED)
    if since_ms is not None:
        recent = recent.has("ts", P.gte(since_ms))
    events = _performed_rows(recent)
    if since_ms is not None:
        events += _performed_rows(g.V(*many_ids(list(customer_vids))).local(
            __.out_e(s.PERFORMED).has("ts", P.lt(since_ms)).order().by("ts", Order.desc)
            .by(_seq(), Order.desc).by(__.in_v().id_(), Order.desc).limit(1)))
    state.events += [(row["c"], row["ts"], row["q"], row["e"]) for row in events]
    for chunk in id_chunks([row["e"] for row in events]):
        for row in (g.V(*many_ids(chunk)).out_e(s.NEXT).project("id", "a", "b")
                    .by(T.id).by(__.out_v().id_()).by(__.in_v().id_()).to_list()):
            state.links[(row["a"], row["b"])] = row["id"]


def _seq() -> Any:
    """A performed edge's arrival number (0 on edges written before events had one)."""
    return __.coalesce(__.values("seq"), __.constant(0))


def _performed_rows(edges: Any) -> list[dict[str, Any]]:
    return edges.project("c", "e", "ts", "q").by(__.out_v().id_()).by(__.in_v().id_()).by("ts").by(_seq()).to_list()


def _plan_customers(plan: WritePlan, records: Sequence[s.EventRecord], customers: Sequence[str],
                    current: dict[str, tuple[int, int, str]], known: Sequence[tuple[str, int, int, str]] = ()) -> int:
    """New customers are created; known ones get their span and last event moved on. The last event
    is the last of the chain's order (time, arrival, id), so `known` (the events read for the chains,
    with their arrival numbers) decides a tie with the customer's current last event."""
    span: dict[str, tuple[int, tuple[int, int, str]]] = {}
    for record, customer in zip(records, customers, strict=True):
        key = (record.ts, record.seq, s.event_vid(record.event_id))
        lo, top = span.get(customer, (record.ts, key))
        span[customer] = (min(lo, record.ts), max(top, key))
    tops: dict[str, tuple[int, int, str]] = {}
    for customer_vid, ts, seq, event_vid in known:
        customer = s.strip_prefix(customer_vid)
        tops[customer] = max(tops.get(customer, (ts, seq, event_vid)), (ts, seq, event_vid))
    for customer, (lo, top) in span.items():
        vid = s.customer_vid(customer)
        if customer not in current:
            plan.created.append((vid, s.CUSTOMER, {"customer_id": customer, "first_seen": lo, "last_seen": top[0],
                                                   "last_event": top[2], "attributes": "{}"}))
            continue
        old_lo, old_hi, old_last = current[customer]
        newest = max(top, tops.get(customer, (old_hi, 0, old_last)))
        if lo < old_lo or (newest[0], newest[2]) != (old_hi, old_last):
            plan.updates.append((vid, {"first_seen": min(lo, old_lo), "last_seen": newest[0],
                                       "last_event": newest[2]}))
    return len(plan.created)


def _plan_identifiers(plan: WritePlan, records: Sequence[s.EventRecord], customers: Sequence[str],
                      linked: set[tuple[str, str]]) -> list[Edge]:
    """Every identifier an event carries is linked to the event's customer (shared phones and
    e-mails stay visible as identifiers with several customers: a risk signal)."""
    vertices: dict[str, Vertex] = {}
    first_seen: dict[tuple[str, str], int] = {}
    for record, customer in zip(records, customers, strict=True):
        for kind, value in record.identifiers:
            vid = s.identifier_vid(kind, value)
            vertices.setdefault(vid, (vid, s.IDENTIFIER, {"kind": kind, "value": value}))
            pair = (s.customer_vid(customer), vid)
            if pair not in linked:
                first_seen[pair] = min(first_seen.get(pair, record.ts), record.ts)
    plan.identifiers = list(vertices.values())
    return [(s.HAS_IDENTIFIER, c, i, {"rule": "deterministic", "first_seen": ts}) for (c, i), ts in first_seen.items()]


def _plan_events(plan: WritePlan, records: Sequence[s.EventRecord], customers: Sequence[str]) -> list[Edge]:
    """Event vertices and their performed edges (returned, to be written last)."""
    vids = [s.event_vid(r.event_id) for r in records]
    plan.events = [(vid, s.EVENT, r.properties(c)) for vid, r, c in zip(vids, records, customers, strict=True)]
    return [(s.PERFORMED, s.customer_vid(c), vid, {"ts": r.ts, "seq": r.seq})
            for vid, r, c in zip(vids, records, customers, strict=True)]


def _plan_chains(plan: WritePlan, state: _State, records: Sequence[s.EventRecord],
                 customers: Sequence[str]) -> list[Edge]:
    """Make each touched customer's `next` edges follow its events in (ts, event id) order: stale
    links are dropped, missing ones returned."""
    events = state.events + [(s.customer_vid(c), r.ts, r.seq, s.event_vid(r.event_id))
                             for r, c in zip(records, customers, strict=True)]
    wanted = _wanted_links(events)
    plan.dropped += [edge_id for pair, edge_id in state.links.items() if pair not in wanted]
    return [(s.NEXT, a, b, {"gap_ms": gap}) for (a, b), gap in wanted.items() if (a, b) not in state.links]


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
        plan = WritePlan()
        plan.edges = _plan_chains(plan, _read_state(chunk, since_ms=None), [], [])
        apply_plan(plan)


def _wanted_links(events: list[tuple[str, int, int, str]]) -> dict[tuple[str, str], int]:
    """(customer vertex, ts, seq, event vertex) rows → the `next` links they need, with their gaps:
    time order, arrival order between equal times, then event id."""
    by_customer: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for customer, ts, seq, event in events:
        by_customer[customer].append((ts, seq, event))
    wanted: dict[tuple[str, str], int] = {}
    for items in by_customer.values():
        if len(items) > 1:
            items.sort()
            for (ts_a, _, a), (ts_b, _, b) in zip(items, items[1:], strict=False):
                wanted[(a, b)] = ts_b - ts_a
    return wanted
