"""Milestone and KPI definitions that fit the demo bank's event types.

Created before the events are loaded, so the ingest follow-up (milestones, KPI store) sees them;
existing definitions with the same slug are left as people edited them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.demo import catalog as c
from apps.journeys.models import KpiDefinition, MilestoneDefinition

CALL_TYPES = [f"{c.CALL_PREFIX}{p.topic}" for p in c.PRODUCTS.values()]
ASSISTED_CONTACTS = CALL_TYPES + [c.DISPUTE_CALL, c.DISPUTE_CHAT, c.CHAT_FOLLOW_UP, c.COMPLAINT]


@dataclass(frozen=True)
class DefinitionsReport:
    milestones_created: int
    kpis_created: int


def milestone_specs() -> list[dict[str, Any]]:
    specs: list[dict[str, Any]] = [
        {"slug": slug, "name": name, "trigger": "event_type", "event_type": event_type}
        for slug, name, event_type in c.MILESTONES
    ]
    specs.append({"slug": c.FRAUD_DISPUTE, "name": "Fraud dispute lodged", "trigger": "attribute",
                  "attribute": "intent", "op": "eq", "value": c.FRAUD_DISPUTE_INTENT})
    specs.append({"slug": "card_locked_then_dispute_call", "name": "Card locked, then a dispute call within a day",
                  "trigger": "sequence", "sequence": ["card_locked", c.DISPUTE_CALL], "window_seconds": 86_400})
    return specs


def kpi_specs() -> list[dict[str, Any]]:
    contacts = {"event_types": ASSISTED_CONTACTS}
    return [
        {"slug": "contacts-per-customer", "name": "Assisted contacts per customer", "kind": "contacts_per_customer",
         "params": contacts},
        {"slug": "repeat-contact-7d", "name": "Repeat contact within 7 days", "kind": "repeat_contact",
         "params": {**contacts, "window_days": 7}, "unit": "%"},
        {"slug": "channel-switches", "name": "Channel switches before resolution", "kind": "channel_switches",
         "params": {"window_days": 14}},
        {"slug": "time-to-resolution", "name": "Time to resolution", "kind": "time_to_resolution",
         "params": {"window_days": 14}, "unit": "h"},
        {"slug": "call-abandonment", "name": "Call abandonment", "kind": "abandonment",
         "params": {"event_types": CALL_TYPES}, "unit": "%"},
        {"slug": "home-loan-conversion", "name": "Conversion to home loan approved", "kind": "milestone_conversion",
         "params": {"milestone": "home_loan_approved"}, "unit": "%"},
        {"slug": "card-activation", "name": "Conversion to card activated", "kind": "milestone_conversion",
         "params": {"milestone": "card_activated"}, "unit": "%"},
    ]


def _ensure(model: type[MilestoneDefinition] | type[KpiDefinition], specs: list[dict[str, Any]]) -> int:
    created = 0
    for spec in specs:
        if model.objects.filter(slug=spec["slug"]).exists():
            continue
        definition = model(**spec)
        definition.full_clean()
        definition.save()
        created += 1
    return created


def ensure_definitions() -> DefinitionsReport:
    return DefinitionsReport(milestones_created=_ensure(MilestoneDefinition, milestone_specs()),
                             kpis_created=_ensure(KpiDefinition, kpi_specs()))
