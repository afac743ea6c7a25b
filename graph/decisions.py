"""Graph reads and writes behind contact-centre decisions (intent and risk), kept small and portable.

A decision runs while a caller waits, so each function here is one short traversal anchored on a
vertex id (a customer or an identifier), never a scan.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import Order, P

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
    calls with an intent, oldest first, in one round trip: the intent decision's only graph read."""
    if customer_id:
        start = get_g().V(s.customer_vid(customer_id)).has_label(s.CUSTOMER)
    elif phone:
        start = (get_g().V(s.identifier_vid("phone", phone)).in_e(s.HAS_IDENTIFIER).order().by("first_seen")
                 .limit(1).out_v())
    else:
        return None, []
    calls = __.out_e(s.PERFORMED)
    if until_ms is not None:
        calls = calls.has("ts", P.lte(until_ms))
    calls = (calls.order().by("ts", Order.desc).in_v().has("intent").limit(limit)
             .project("ts", "intent").by("ts").by("intent").fold())
    rows = start.project("c", "calls").by("customer_id").by(calls).to_list()
    if not rows:
        return None, []
    history = [(int(r["ts"]), str(r["intent"])) for r in rows[0]["calls"]]
    return str(rows[0]["c"]), list(reversed(history))


def identifier_sharing(identifiers: Sequence[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Per `kind:value`: how many customers share the identifier, when it was first seen (None = never)
    and the customer it was first linked to (None for a stranger)."""
    vids = [s.identifier_vid(kind, value) for kind, value in identifiers]
    if not vids:
        return {}
    rows = (get_g().V(*vids).project("id", "n", "first", "owner")
            .by(__.id_()).by(__.in_(s.HAS_IDENTIFIER).dedup().count())
            .by(__.in_e(s.HAS_IDENTIFIER).values("first_seen").min_().fold())
            .by(__.in_e(s.HAS_IDENTIFIER).order().by("first_seen").limit(1).out_v().values("customer_id").fold())
            .to_list())
    found = {s.strip_prefix(str(row["id"])): {"customers": int(row["n"]),
                                               "first_seen": int(row["first"][0]) if row["first"] else None,
                                               "customer": str(row["owner"][0]) if row["owner"] else None}
             for row in rows}
    return {f"{kind}:{value}": found.get(f"{kind}:{value}", {"customers": 0, "first_seen": None, "customer": None})
            for kind, value in identifiers}


def failed_verifications(customer_id: str, since_ms: int) -> int:
    """Failed identity checks (events of type `verification` with a failed outcome) since a time."""
    return int(get_g().V(s.customer_vid(customer_id)).out(s.PERFORMED).has("type", VERIFICATION_TYPE)
               .has("ts", P.gte(since_ms)).has("outcome", P.within(list(FAILED_OUTCOMES))).count().next())


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
