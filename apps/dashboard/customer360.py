"""Customer 360 sections, each gathered from the app that owns it and each able to be missing alone."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from apps.conversations import selectors as conversation_selectors
from apps.dashboard.sources import NotAvailable, call, model
from apps.dashboard.tables import Column, Table
from apps.dashboard.views.common import ms_to_datetime

TIMELINE_COLUMNS = [Column("when", "Time (UTC)"), Column("channel", "Channel"), Column("type", "Event"),
                    Column("intent", "Intent"), Column("outcome", "Outcome"), Column("event_id", "Event id")]
SIMILAR_COLUMNS = [Column("customer_id", "Customer"), Column("score", "Similarity", True),
                   Column("shared", "Shared steps"), Column("journey", "Journey")]


@dataclass
class Section:
    """A part of the page: its data, or the reason it is missing."""

    data: Any = None
    missing: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def fmt_ms(ms: int | None) -> str:
    when = ms_to_datetime(ms)
    return f"{when:%Y-%m-%d %H:%M:%S}" if when else ""


def timeline(customer_id: str, *, offset: int, limit: int) -> tuple[int, Table]:
    count, events = call("apps.customers.selectors", "journey_page", customer_id=customer_id, offset=offset,
                         limit=limit)
    rows = [{"when": fmt_ms(e["ts"]), "channel": e["channel"], "type": e["type"], "intent": e.get("intent") or "",
             "outcome": e.get("outcome") or "", "event_id": e["event_id"]} for e in events]
    caption = f"Events {offset + 1}–{offset + len(rows)} of {count}, oldest first, across every channel"
    return count, Table("timeline", caption, TIMELINE_COLUMNS, rows)


def _guard(fn: Any, *args: Any, **kwargs: Any) -> Section:
    try:
        return Section(data=fn(*args, **kwargs))
    except NotAvailable as exc:
        return Section(missing=str(exc))


def milestones(customer_id: str) -> Section:
    """Milestones the customer reached, first reach each, in the order reached."""
    return _guard(call, "apps.journeys.selectors", "customer_milestones", customer_id=customer_id)


def scores(customer_id: str) -> Section:
    """Every active customer model's score now, with the features that pushed it most."""
    def build() -> list[dict[str, Any]]:
        found = call("apps.propensity.scoring", "score_customer_all_models", customer_id=customer_id)
        return [{"model": s.model, "version": f"v{s.version}", "score": round(float(s.score), 3),
                 "above": s.label,
                 "explanation": [{"feature": c.feature, "value": c.value, "contribution": round(c.contribution, 3)}
                                 for c in s.contributions[:5]]} for s in found]
    return _guard(build)


SIMILAR_THRESHOLD = 0.2


def similar(customer_id: str, *, k: int = 10) -> Section:
    def build() -> Table:
        result = call("apps.journeys.selectors", "similar_journeys", customer_id=customer_id, k=k,
                      threshold=SIMILAR_THRESHOLD)
        return similarity_table(result, f"{result.similar_customers} customers have a journey at least "
                                        f"{SIMILAR_THRESHOLD:.0%} similar to this one; the closest {len(result.top)}")
    return _guard(build)


def similarity_table(result: Any, caption: str) -> Table:
    rows = [{"customer_id": s.customer_id, "score": round(float(s.score), 4),
             "shared": " | ".join(" > ".join(part) for part in s.shared[:3]), "journey": " > ".join(s.journey),
             "url": reverse("dashboard:customer", args=[s.customer_id])} for s in result.top]
    return Table("similar", caption, SIMILAR_COLUMNS, rows, links={"customer_id": "url"})


DAY_MS = 86_400_000


def predicted(customer_id: str, summary: Any) -> Section:
    """What the contact flow would answer if this customer called a day after their last contact:
    the intent and risk decisions computed now, without writing to the decision log."""
    def build() -> dict[str, Any]:
        at_ms = int(summary.last_seen) + DAY_MS
        phones = [i["value"] for i in summary.identifiers if i["kind"] == "phone"]
        emails = [i["value"] for i in summary.identifiers if i["kind"] == "email"]
        intent = call("apps.decisions.services", "decide_intent", customer_id=customer_id, at_ms=at_ms, log=False)
        risk = call("apps.decisions.services", "decide_risk", customer_id=customer_id,
                    phone=phones[0] if phones else None, email=emails[0] if emails else None, at_ms=at_ms,
                    log=False)
        return {"at": ms_to_datetime(at_ms), "intent": intent, "risk": risk}
    return _guard(build)


def latest_decisions(customer_id: str) -> Section:
    """The latest logged intent and risk decisions for the customer (reading the log has no side effects)."""
    def build() -> dict[str, Any]:
        log = model("decisions", "DecisionLog")
        out = {}
        for kind in ("intent", "risk"):
            found = log.objects.filter(customer_id=customer_id, kind=kind).order_by("-created", "-id").first()
            out[kind] = None if found is None else {"at": found.created, "output": found.output or {},
                                                    "model": found.model_version}
        return out
    return _guard(build)


CURVE_WIDTH, CURVE_HEIGHT = 160, 40


def conversations(customer_id: str, *, limit: int = 10) -> Section:
    """The customer's analysed calls and chats: sentiment curve per participant (Contact Lens's
    quarters), categories, summary and the redacted transcript, newest first."""
    found = []
    for contact in conversation_selectors.customer_contacts(customer_id, limit=limit):
        quarters = (contact.characteristics or {}).get("quarters", {})
        found.append({"contact": contact, "categories": sorted(c.name for c in contact.matched_categories.all()),
                      "curves": [{"role": role.lower(), "points": _curve(quarters[role])}
                                 for role in ("CUSTOMER", "AGENT") if quarters.get(role)],
                      "quarters": {role: [q["score"] for q in rows] for role, rows in quarters.items()},
                      "turns": list(contact.turns.all())})
    return Section(data=found)


def _curve(rows: list[dict[str, Any]]) -> str:
    """SVG polyline points for four quarter scores on -5…5 (top is positive)."""
    step = CURVE_WIDTH / max(len(rows) - 1, 1)
    return " ".join(f"{i * step:.0f},{(5 - float(r['score'])) / 10 * CURVE_HEIGHT:.1f}" for i, r in enumerate(rows))
