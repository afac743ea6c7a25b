"""Graph reads and writes behind contact-centre decisions (intent and risk), kept small and portable.

A decision runs while a caller waits, so each function here is one short traversal anchored on a
vertex id (a customer or an identifier), never a scan.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from gremlin_python.process.graph_traversal import GraphTraversal, GraphTraversalSource, __
from gremlin_python.process.traversal import Order, P, TextP

from graph import prepared
from graph import schema as s
from graph.connection import get_g

VERIFICATION_TYPE = "verification"
FAILED_OUTCOMES = ("failed", "fail", "rejected")
ISSUE_TYPES = ("issue", "case", "complaint")
CLOSED_OUTCOMES = ("resolved", "closed", "cancelled")


def customer_for_identifier(kind: str, value: str) -> str | None:
    """The customer an identifier was first linked to (ids sort ties), or None for a stranger."""
    rows = (get_g().V(s.identifier_vid(kind, value)).in_e(s.HAS_IDENTIFIER).project("c", "t")
            .by(__.out_v().values("customer_id")).by("first_seen").to_list())
    if not rows:
        return None
    return str(min((row["t"], row["c"]) for row in rows)[1])


def customer_known(customer_id: str) -> bool:
    return bool(get_g().V(s.customer_vid(customer_id)).has_label(s.CUSTOMER).count().next())


def caller_intents(*, customer_id: str | None = None, phone: str | None = None, limit: int = 5,
                   until_ms: int | None = None) -> tuple[str | None, list[tuple[int, str]]]:
    """The caller (by customer id, else by the customer first linked to the phone) and their latest
    calls with an intent, oldest first, in one round trip: the intent decision's only graph read. With
    `until_ms` (the call's time) both are as they stood at that time, that millisecond included: a call
    confirmed at the same time as the next decision counts for it, and a phone linked later does not
    name the caller of a past call."""
    if customer_id:
        vid = s.customer_vid(customer_id)
    elif phone:
        vid = s.identifier_vid("phone", phone)
    else:
        return None, []
    found = _read_caller_intents(vid, bool(customer_id), until_ms, limit, ties=False)
    if found and any(a["ts"] == b["ts"] for a, b in pairwise(found[0]["calls"])):
        found = _read_caller_intents(vid, bool(customer_id), until_ms, limit, ties=True)
    if not found:
        return None, []
    history = [(int(r["ts"]), str(r["intent"])) for r in found[0]["calls"][:limit]]
    return str(found[0]["c"]), list(reversed(history))


def _read_caller_intents(vid: str, by_customer: bool, until_ms: int | None, limit: int, *, ties: bool) -> list[Any]:
    """The read behind `caller_intents`, one call longer than asked for (so a tie between the last call
    kept and the next is seen). Calls are ordered by time alone, or with `ties` also as the `next`
    chain orders equal times: `caller_intents` reads again with `ties` when two calls read share a
    time, so the calls and their order never depend on how a store lists equal times."""
    bounded = until_ms is not None
    return prepared.run_values(_caller_intents, (by_customer, bounded, ties), vid=vid, limit=limit + 1,
                               **({"until": until_ms} if bounded else {}))


def _caller_intents(g: GraphTraversalSource, by_customer: bool, bounded: bool, ties: bool, *, vid: Any, limit: Any,
                    until: Any = None) -> GraphTraversal:
    """Only the events that carry an intent are ordered: a caller with thousands of web or app events
    and a few calls has every event checked for an intent, far cheaper than ordering them all."""
    by_then = P.lte(until) if bounded else None
    calls = (_newest_first(_matching(__.out(s.PERFORMED).has("intent"), "ts", by_then), ties, events=True)
             .limit(limit).project("ts", "intent").by("ts").by("intent").fold())
    return _caller(g.V(vid), by_customer, by_then).project("c", "calls").by("customer_id").by(calls)


def _caller(start: GraphTraversal, by_customer: bool, linked: P | None = None) -> GraphTraversal:
    """From a customer vertex, that customer; from an identifier, the customer first linked to it (with
    `linked`, among the links whose first time matches it). Links of the same first time are ordered by
    the customer's id, as identity resolution and `customer_for_identifier` order them: by time alone
    the store's listing would choose, and a decision could name another caller than the rest of the hub."""
    if by_customer:
        return start.has_label(s.CUSTOMER)
    return _links(start, linked).order().by("first_seen").by(__.out_v().id_()).limit(1).out_v()


def _links(start: GraphTraversal, linked: P | None) -> GraphTraversal:
    """An identifier's links to customers, only those whose first time matches `linked` when given."""
    return _matching(start.in_e(s.HAS_IDENTIFIER), "first_seen", linked)


def _matching(edges: GraphTraversal, key: str, predicate: P | None) -> GraphTraversal:
    """`edges` whose `key` matches `predicate`, or all of them without one (a read not bounded in time)."""
    return edges if predicate is None else edges.has(key, predicate)


HISTORY_LIMIT = 200
HISTORY_KEYS = ("ts", "type", "channel", "outcome", "attributes", "categories")
PLAIN_CHANNELS = ("web", "app", "email")  # an event of these is read for its time alone unless it holds more


@dataclass(frozen=True)
class History:
    """A caller's latest events before a call, as the risk decision reads them. `events`: in full (ts,
    type, channel, outcome, attributes and a contact's matched categories as stored), newest first, the
    events a decision reads more of than their time: every event outside PLAIN_CHANNELS (calls, chats:
    durations and checks), identity checks, events whose attributes name a verification and contacts
    with categories. `plain_times`: the times of the others, plain web, app and e-mail events, newest
    first. A regular customer's history is mostly those; building each one's row cost the engine 3–5 µs,
    a third or more of a 200-event read."""

    events: list[dict[str, Any]] = field(default_factory=list)
    plain_times: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.events) + len(self.plain_times)

    @property
    def oldest_ms(self) -> int | None:
        return min([int(e["ts"]) for e in self.events] + self.plain_times, default=None)


@dataclass(frozen=True)
class RiskFacts:
    """What a risk decision reads from the graph. `sharing` per `kind:value`: how many customers share
    the identifier, when it was first seen (None = never) and the customer it was first linked to.
    `history`: the caller's latest events before the call, what the caller's profile and the rules'
    recent categories are computed from."""

    sharing: dict[str, dict[str, Any]]
    customer: str | None
    failed_verifications: int
    history: History = field(default_factory=History)


def risk_facts(identifiers: Sequence[tuple[str, str]], *, customer_id: str | None = None,
               phone: str | None = None, since_ms: int, until_ms: int | None = None,
               history_limit: int = HISTORY_LIMIT) -> RiskFacts:
    """Identifier sharing, the caller (by customer id, else the customer first linked to the phone), the
    caller's failed identity checks (events of type `verification` with a failed outcome) since a time
    and the caller's latest events: the risk decision's only graph read, two for a caller with a long
    history (below). With `until_ms` (the call's time) the caller found by phone, the sharing, the
    failed checks and the history are as they stood strictly before it, so a decision asked for a past
    time (a replay) sees nothing that came after.

    Finding a caller's latest events among all of them means ordering every `performed` edge by time,
    work that grows with everything the caller ever did (5 ms at 5,000 events). A caller with more than
    WALK_FROM events is therefore read in two steps: the first read returns the caller's newest event
    (the customer's `last_event`) instead, and the second walks back from it along the time-ordered
    `next` chain, so its work is the events read. The failed checks then come from that history when
    it reaches back past `since_ms`; when it does not (more events since then than the history holds),
    or the walk finds too few events before the call, the caller is read as any other. Below WALK_FROM
    the second round trip and the walk would cost more than the ordering they save. Only a caller whose
    last read in this process filled the history is read in the form that can walk (it costs the
    others' read about 30 µs): the first decision of a long history in a process orders it once.

    Likewise only a caller whose last read held COMPACT_FROM events or more is read in the compact
    form (`_compact`: plain web, app and e-mail events by their time alone). It saves the engine about
    3 µs an event and costs every read some 50 µs; the `History` is the same in either form.

    A caller found by a phone that is also asked about, the contact flow's usual question, is read from
    the same start as the identifiers' sharing (a second start of the phone's vertex cost 3–6 % of the
    read back to back).

    Events of equal time at the history's edge are kept in the `next` chain's order, as the walk keeps
    them (`_read_risk_facts`), so a decision does not depend on the form of the read or on the order in
    which a store lists equal times.

    The failed checks are counted from the history the read brings back whenever it holds the whole
    window: it holds fewer events than asked for (so every event before the call) or reaches back past
    `since_ms`. Counting them in the engine as well cost a short history's read about a sixth of its
    time. Only a history that is full and lies wholly within the window (a caller with more events in
    the day than the history holds) has the caller read again, with the engine counting them."""
    vids = [s.identifier_vid(kind, value) for kind, value in identifiers]
    caller = s.customer_vid(customer_id) if customer_id else s.identifier_vid("phone", phone) if phone else None
    if caller is None and not vids:
        return RiskFacts({}, None, 0)
    known = _history_lengths.get(caller, 0) if caller else 0
    walk = known >= history_limit
    found = _read_risk_facts(vids, caller, bool(customer_id), since_ms, until_ms, history_limit, walk=walk,
                             compact=walk or known >= COMPACT_FROM)
    _note_history_length(caller, found, history_limit)
    sharing = {f"{kind}:{value}": found.sharing.get(f"{kind}:{value}", {"customers": 0, "first_seen": None,
                                                                      "customer": None})
               for kind, value in identifiers}
    if found.customer is None:
        return RiskFacts(sharing, None, 0)
    if found.last_event is None:
        history = found.history
        # fewer events than asked for: the history is every event before the call, the window's included
        failed = found.failed if found.failed is not None else _failed_in(history, since_ms, until_ms,
                                                                          whole=len(history) < history_limit)
    else:
        history = _walked_history(found.last_event, until_ms, history_limit)
        failed = _failed_in(history, since_ms, until_ms) if len(history) == history_limit else None
    if failed is None:
        found = _read_risk_facts(vids, caller, bool(customer_id), since_ms, until_ms, history_limit, walk=False,
                                 compact=True, count=True)
        return RiskFacts(sharing, found.customer, int(found.failed or 0), found.history)
    return RiskFacts(sharing, found.customer, failed, history)


@dataclass(frozen=True)
class _FirstRead:
    """The risk read's answer: `last_event` instead of `failed` and `history` for a caller whose
    history is read by walking back from that event."""

    sharing: dict[str, dict[str, Any]]
    customer: str | None
    failed: int | None = None  # counted by the engine only when asked to (`count`)
    history: History = field(default_factory=History)
    last_event: str | None = None


def _read_risk_facts(vids: list[str], caller: str | None, by_customer: bool, since_ms: int, until_ms: int | None,
                     history_limit: int, *, walk: bool, compact: bool, count: bool = False,
                     ties: bool = False) -> _FirstRead:
    """One read of the risk facts. The history is read one event longer than it holds: when that event
    has the time of the last one kept (a tie at the history's edge, which an order by time alone leaves
    to the store), the read is made again with `ties`, ordering events of equal time as the `next`
    chain does (arrival order, then event id), so the history is the one the walk would read."""
    bounded = until_ms is not None
    # the caller found by a phone asked about: one start on the identifiers for the sharing and the caller
    merged = caller in vids and not by_customer
    shape = (caller is not None and by_customer, caller is not None, bool(vids), merged, bounded, walk, compact,
             ties, count)
    walk_from = max(WALK_FROM, history_limit)
    values = {"caller": caller, "limit": history_limit + 1} if caller else {}
    if caller and count:  # the window's start only where the engine counts the failed checks
        values["since"] = since_ms
    if caller and walk:  # bound only where the read counts edges against them
        values |= {"walk_from": walk_from, "probe": walk_from + 1}
    rows = prepared.run_values(_risk_facts, shape, **values, **({"vids": vids} if vids else {}),
                               **({"until": until_ms} if bounded else {}))
    row = (rows[0] if rows else {}) if not merged else _unmerged(rows)
    sharing = {s.strip_prefix(str(r["id"])): _sharing(r["links"]) for r in row.get("ids", [])}
    callers = row.get("caller", [])
    if not callers:
        return _FirstRead(sharing, None)
    found = callers[0]
    if "last" in found:
        # a customer written before `last_event` was kept has none: read as any other
        return (_FirstRead(sharing, str(found["c"]), last_event=str(found["last"])) if found["last"]
                else _read_risk_facts(vids, caller, by_customer, since_ms, until_ms, history_limit, walk=False,
                                      compact=True, count=True))
    failed = int(found["failed"]) if "failed" in found else None
    kept, tied = _kept(found["history"], history_limit)
    if tied and not ties:
        return _read_risk_facts(vids, caller, by_customer, since_ms, until_ms, history_limit, walk=walk,
                                compact=compact, count=count, ties=True)
    return _FirstRead(sharing, str(found["c"]), failed, _history(kept))


def _unmerged(rows: list[Any]) -> dict[str, Any]:
    """The merged read's answer (a row per identifier the hub has seen, the caller's part only in the
    phone's) in the shape of the other reads'."""
    return {"ids": [{"id": r["id"], "links": r["links"]} for r in rows],
            "caller": [found for r in rows for found in r["caller"]]}


def _kept(rows: list[Any], limit: int) -> tuple[list[Any], bool]:
    """The newest `limit` of a history read one event longer (newest first), and whether the event left
    out has the time of the last one kept."""
    if len(rows) <= limit:
        return rows, False
    return rows[:limit], limit > 0 and _time_of(rows[limit - 1]) == _time_of(rows[limit])


def _time_of(row: Any) -> int:
    """An event's time in a history read: the row of an event read in full, or the time alone (`_compact`)."""
    return int(row["ts"]) if isinstance(row, dict) else int(row)


def _risk_facts(g: GraphTraversalSource, by_customer: bool, with_caller: bool, with_ids: bool, merged: bool,
                bounded: bool, walk: bool, compact: bool, ties: bool, count: bool, *, caller: Any = None,
                since: Any = None, limit: Any = None, walk_from: Any = None, probe: Any = None, vids: Any = None,
                until: Any = None) -> GraphTraversal:
    before = P.lt(until) if bounded else None
    links = _links(__.start(), before).project("t", "c").by("first_seen").by(__.out_v().values("customer_id"))
    if merged:
        return g.V(vids).project("id", "links", "caller").by(__.id_()).by(links.fold()).by(
            _caller_read(__.has_id(caller), False, bounded, walk, compact, ties, count, since=since, limit=limit,
                         walk_from=walk_from, probe=probe, until=until).fold())
    keys = (["ids"] if with_ids else []) + (["caller"] if with_caller else [])
    traversal = g.inject(0).project(*keys)
    if with_ids:
        traversal = traversal.by(__.V(vids).project("id", "links").by(__.id_()).by(links.fold()).fold())
    if with_caller:
        traversal = traversal.by(_caller_read(__.V(caller), by_customer, bounded, walk, compact, ties, count,
                                              since=since, limit=limit, walk_from=walk_from, probe=probe,
                                              until=until).fold())
    return traversal


def _caller_read(start: GraphTraversal, by_customer: bool, bounded: bool, walk: bool, compact: bool, ties: bool,
                 count: bool, *, since: Any, limit: Any, walk_from: Any, probe: Any, until: Any) -> GraphTraversal:
    """From the vertex asked about (a customer, or an identifier), the caller's part of the risk read."""
    before = P.lt(until) if bounded else None
    failed = _failed_count(since, until if bounded else None) if count else None
    latest = _newest_first(_matching(__.out_e(s.PERFORMED), "ts", before), ties).limit(limit).in_v()
    history = _compact(latest) if compact else latest.value_map(*HISTORY_KEYS).by(__.unfold()).fold()
    found = _caller(start, by_customer, before)
    if not walk:
        return _read(found, failed, history)
    # more than `walk_from` events (at most `probe` edges counted): the newest event only
    newest = __.project("c", "last").by("customer_id").by(__.coalesce(__.values("last_event"), __.constant("")))
    return found.choose(__.out_e(s.PERFORMED).limit(probe).count().is_(P.gt(walk_from)), newest,
                        _read(__.start(), failed, history))


def _newest_first(found: GraphTraversal, ties: bool, *, events: bool = False) -> GraphTraversal:
    """`performed` edges (or, with `events`, the events themselves) by time, newest first; with `ties`,
    equal times in the `next` chain's order too (arrival number, 0 where written before events had one,
    then event id): the read made again when one found a tie, the others pay for one key only."""
    by_time = found.order().by("ts", Order.desc)
    if not ties:
        return by_time
    return by_time.by(__.coalesce(__.values("seq"), __.constant(0)), Order.desc).by(
        __.id_() if events else __.in_v().id_(), Order.desc)


def _read(caller: GraphTraversal, failed: GraphTraversal | None, history: GraphTraversal) -> GraphTraversal:
    if failed is None:
        return caller.project("c", "history").by("customer_id").by(history)
    return caller.project("c", "failed", "history").by("customer_id").by(failed).by(history)


def _failed_count(since: Any, until: Any) -> GraphTraversal:
    """The caller's failed identity checks in [since, until): the window on the edges (their ts is the
    event's, as the history's order and bound read it), so only the day's events are visited, not every
    event of a long history."""
    window = P.between(since, until) if until is not None else P.gte(since)
    return (__.out_e(s.PERFORMED).has("ts", window).in_v().has("type", VERIFICATION_TYPE)
            .has("outcome", P.within(list(FAILED_OUTCOMES))).count())


def _compact(events: GraphTraversal) -> GraphTraversal:
    """`events` (newest first) as a `History`'s parts: in full the events a decision reads more of, the
    time alone of the others."""
    detailed = __.or_(__.not_(__.has("channel", P.within(*PLAIN_CHANNELS))), __.has("type", VERIFICATION_TYPE),
                      __.has("attributes", TextP.containing("verification")), __.has("categories"))
    return events.choose(detailed, __.value_map(*HISTORY_KEYS).by(__.unfold()), __.values("ts")).fold()


def _history(rows: list[Any]) -> History:
    """A `History` from a history read's rows: a map per event read in full, a time per plain event
    (`_compact`). A plain event read in full (the read that is not compact) is kept by its time too, so
    the history is the same whichever form read it."""
    events, plain_times = [], []
    for row in rows:
        if not isinstance(row, dict):
            plain_times.append(int(row))
        elif _plain(row):
            plain_times.append(int(row["ts"]))
        else:
            events.append(_history_row(row))
    return History(events, plain_times)


def _plain(row: dict[Any, Any]) -> bool:
    """`_compact`'s test, for an event read in full."""
    return (row.get("channel") in PLAIN_CHANNELS and row.get("type") != VERIFICATION_TYPE
            and "verification" not in str(row.get("attributes") or "") and "categories" not in row)


WALK_FROM = 1000  # a caller with more events than this is read by walking back from the newest
WALK_PAST = 50  # events at or after the call's time a walk steps over before it reads the caller as any other
COMPACT_FROM = 50  # a caller whose last read held this many events is read in the compact form
HISTORIES_KEPT = 200_000  # callers remembered with the length of their history, the least recently read forgotten
# caller (vertex id) → events its last risk read held, least recently read first: a hub with millions of
# regulars keeps its busiest callers' form, and a caller it forgot is read in the plain form once
_history_lengths: OrderedDict[str, int] = OrderedDict()
_history_lengths_lock = threading.Lock()


def _note_history_length(caller: str | None, found: _FirstRead, limit: int) -> None:
    """Remember how many events a caller's history held (the whole `limit` when walked), so their next
    read takes the compact form or walks; forget a caller whose history is short (a phone now naming
    another customer)."""
    if caller is None:
        return
    length = limit if found.last_event is not None else len(found.history) if found.customer is not None else 0
    if length < min(COMPACT_FROM, limit):
        if caller in _history_lengths:  # most callers are short and were never remembered: no lock for them
            with _history_lengths_lock:
                _history_lengths.pop(caller, None)
        return
    with _history_lengths_lock:
        _history_lengths[caller] = length
        _history_lengths.move_to_end(caller)
        while len(_history_lengths) > HISTORIES_KEPT:
            _history_lengths.popitem(last=False)


def _walked_history(last_event: str, until_ms: int | None, limit: int) -> History:
    """The caller's latest `limit` events before `until_ms` (all of them without it), newest first,
    walking back from the newest along `next`; fewer when more than WALK_PAST events lie at or after
    the call's time (a replay far in the past)."""
    bounded = until_ms is not None
    rows = prepared.run_values(_history_walk, (bounded,), last=last_event, limit=limit,
                               steps=limit + (WALK_PAST if bounded else 0),
                               **({"until": until_ms} if bounded else {}))
    return _history(rows[0]) if rows else History()


def _history_walk(g: GraphTraversalSource, bounded: bool, *, last: Any, limit: Any, steps: Any,
                  until: Any = None) -> GraphTraversal:
    events = g.V(last).emit().repeat(__.in_(s.NEXT)).times(steps)
    events = events.has("ts", P.lt(until)) if bounded else events
    return _compact(events.limit(limit))


def _failed_in(history: History, since_ms: int, until_ms: int | None, *, whole: bool = False) -> int | None:
    """Failed identity checks in the window [since_ms, until_ms) counted from the caller's latest events
    (the checks are among its events in full), or None when the history does not reach back past
    `since_ms` (events of the window may be older than it) and is not the `whole` history before the call."""
    if not whole and (history.oldest_ms is None or history.oldest_ms >= since_ms):
        return None
    return sum(1 for e in history.events if int(e["ts"]) >= since_ms and (until_ms is None or int(e["ts"]) < until_ms)
               and e["type"] == VERIFICATION_TYPE and e["outcome"] in FAILED_OUTCOMES)


def _history_row(values: dict[Any, Any]) -> dict[str, Any]:
    """One `value_map` row (each property's value itself: `by(unfold())`) with every key; absent properties
    are None, and `categories` is there only for a contact whose conversation summary is on its event."""
    return {key: values.get(key) for key in HISTORY_KEYS if key != "categories" or key in values}


def _sharing(links: list[dict[str, Any]]) -> dict[str, Any]:
    """Customers linked to one identifier: how many, the first link's time and customer (ids sort ties)."""
    if not links:
        return {"customers": 0, "first_seen": None, "customer": None}
    first_seen, owner = min((int(link["t"]), str(link["c"])) for link in links)
    return {"customers": len({str(link["c"]) for link in links}), "first_seen": first_seen, "customer": owner}


def open_issues(customer_id: str, limit: int = 10) -> list[dict[str, Any]]:
    """Issue-like events (issue, case, complaint) whose outcome does not close them, newest first."""
    rows = (get_g().V(s.customer_vid(customer_id)).out(s.PERFORMED).has("type", P.within(list(ISSUE_TYPES)))
            .not_(__.has("outcome", P.within(list(CLOSED_OUTCOMES))))
            .order().by("ts", Order.desc).limit(limit).element_map().to_list())
    return [_event(row) for row in rows]


def customer_attributes(customer_id: str) -> dict[str, Any] | None:
    rows = get_g().V(s.customer_vid(customer_id)).has_label(s.CUSTOMER).values("attributes").to_list()
    if not rows:
        return None
    try:
        value = json.loads(rows[0] or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def set_event_intent(event_id: str, intent: str) -> bool:
    """Correct the intent of an event already written (a second answer for the same contact)."""
    found = get_g().V(s.event_vid(event_id)).property("intent", intent).id_().to_list()
    return bool(found)


def _event(row: dict[Any, Any]) -> dict[str, Any]:
    vid = next((v for k, v in row.items() if str(k) in {"T.id", "id"}), "")
    return {"event_id": s.strip_prefix(str(vid)) if vid else "", "type": row.get("type", ""),
            "channel": row.get("channel", ""), "ts": int(row.get("ts", 0)), "intent": row.get("intent"),
            "outcome": row.get("outcome")}
