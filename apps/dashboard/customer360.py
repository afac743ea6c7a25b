"""Customer 360 sections, each gathered from the app that owns it and each able to be missing alone."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from apps.conversations import selectors as conversation_selectors
from apps.core.storage import StorageError
from apps.customers import selectors as customer_selectors
from apps.dashboard import labels
from apps.dashboard.tables import Column, Table
from apps.dashboard.views.common import ms_to_datetime
from apps.decisions import services as decision_services
from apps.decisions.models import DecisionLog
from apps.journeys import selectors as journey_selectors
from apps.propensity import scoring
from apps.propensity.specs import get_spec

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
    count, events = customer_selectors.journey_page(customer_id=customer_id, offset=offset, limit=limit)
    rows = [{"when": fmt_ms(e["ts"]), "channel": e["channel"], "type": e["type"], "intent": e.get("intent") or "",
             "type_label": labels.event_label(e["type"]), "intent_label": labels.intent_label(e.get("intent")),
             "outcome": e.get("outcome") or "", "event_id": e["event_id"]} for e in events]
    caption = f"Events {offset + 1}–{offset + len(rows)} of {count}, oldest first, across every channel"
    return count, Table("timeline", caption, TIMELINE_COLUMNS, rows,
                        labels={"type": "type_label", "intent": "intent_label"})


def _guard(fn: Any, *args: Any, **kwargs: Any) -> Section:
    """One section's data, or why it is missing: the rest of the page still shows."""
    try:
        return Section(data=fn(*args, **kwargs))
    except StorageError as exc:
        return Section(missing=f"An active model's file could not be read ({exc}). Activate another version "
                               "on the Models page, or train the model again.")


def milestones(customer_id: str) -> Section:
    """Milestones the customer reached, first reach each, in the order reached."""
    return _guard(journey_selectors.customer_milestones, customer_id=customer_id)


def scores(customer_id: str) -> Section:
    """Every active customer model's score now, with the features that pushed it most."""
    def build() -> list[dict[str, Any]]:
        found = scoring.score_customer_all_models(customer_id=customer_id)
        return [{"model": s.model, "version": f"v{s.version}", "score": round(float(s.score), 3),
                 "above": s.label, "meaning": _meaning(s.model),
                 "explanation": [{"feature": c.feature, "reason": labels.reason(c.feature, float(c.value)),
                                  "contribution": round(c.contribution, 3)}
                                 for c in s.contributions[:5]]} for s in found]
    return _guard(build)


def next_events(customer_id: str) -> Section:
    """The likeliest next events of the journey so far (or its end), from the active next_event model."""
    try:
        return _guard(scoring.next_events_for, customer_id, k=3)
    except LookupError as exc:  # no active next_event model yet
        return Section(missing=str(exc.args[0]) if exc.args else "no next_event model")


def _meaning(model_name: str) -> str:
    """What a model's score measures, as its specification describes it."""
    try:
        return get_spec(model_name).description
    except KeyError:
        return ""


SIMILAR_THRESHOLD = 0.2


def similar(customer_id: str, *, k: int = 10) -> Section:
    def build() -> Table:
        result = journey_selectors.similar_journeys(customer_id=customer_id, k=k, threshold=SIMILAR_THRESHOLD)
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
        intent = decision_services.decide_intent(customer_id=customer_id, at_ms=at_ms, log=False)
        risk = decision_services.decide_risk(customer_id=customer_id, phone=phones[0] if phones else None,
                                             email=emails[0] if emails else None, at_ms=at_ms, log=False)
        return {"at": ms_to_datetime(at_ms), "intent": intent, "risk": risk}
    return _guard(build)


def latest_decisions(customer_id: str) -> Section:
    """The latest logged intent and risk decisions for the customer (reading the log has no side effects)."""
    def build() -> dict[str, Any]:
        log = DecisionLog
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
