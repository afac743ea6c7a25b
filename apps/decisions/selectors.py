"""Reads for decisions: thresholds, rules, the caller's profile and the decision monitor's figures."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from apps.decisions import config_cache
from apps.decisions.models import ANY_CHANNEL, DEFAULT_HIGH, DEFAULT_LOW, DecisionLog, IntentThreshold, RiskRule
from apps.decisions.rules import DEFAULT_RULES, Rule
from graph import decisions as graph_decisions
from graph import journeys

PROFILE_CONTACTS = 5


def thresholds_for(channel: str) -> tuple[float, float]:
    """(high, low) for a channel, else the `*` row, else the defaults 0.8 / 0.6."""
    rows = config_cache.cached("thresholds",
                               lambda: {t.channel: (t.high, t.low) for t in IntentThreshold.objects.all()})
    row = rows.get(channel.upper()) or rows.get(ANY_CHANNEL)
    return row if row else (DEFAULT_HIGH, DEFAULT_LOW)


def active_rules() -> list[Rule]:
    """The enabled rules in order; the defaults while none is configured, so routing always works."""
    def load() -> list[Rule]:
        rows = RiskRule.objects.filter(enabled=True).order_by("position", "id")
        return [Rule(r.name, tuple(r.conditions), r.outcome) for r in rows] or list(DEFAULT_RULES)

    return list(config_cache.cached("rules", load))


def rule_thresholds(rules: list[Rule]) -> list[float]:
    """Score cut-offs the rules use: the points where TPR/FPR/precision are reported."""
    return sorted({float(c["value"]) for r in rules for c in r.conditions
                   if c["variable"] in {"score", "model_score"} and c["op"] in {">", ">=", "<", "<="}})


@dataclass(frozen=True)
class Profile:
    customer_id: str
    phone: str
    name: str
    customer_class: str
    recent_contacts: list[dict[str, Any]]
    open_issues: list[dict[str, Any]]


def profile_by_phone(e164: str) -> Profile | None:
    """What the contact flow needs to greet and route a caller, or None for a stranger."""
    customer_id = graph_decisions.customer_for_identifier("phone", e164)
    if customer_id is None:
        return None
    attributes = graph_decisions.customer_attributes(customer_id) or {}
    name = str(attributes.get("name") or " ".join(
        str(attributes[k]) for k in ("first_name", "last_name") if attributes.get(k)))
    customer_class = str(attributes.get("class") or attributes.get("customer_class") or attributes.get("segment")
                         or "")
    contacts = [{k: e[k] for k in ("event_id", "type", "channel", "ts", "intent", "outcome")}
                for e in journeys.recent_events(customer_id, PROFILE_CONTACTS)]
    return Profile(customer_id=customer_id, phone=e164, name=name, customer_class=customer_class,
                   recent_contacts=contacts, open_issues=graph_decisions.open_issues(customer_id))


def decision_monitor(*, since: datetime | None = None) -> dict[str, Any]:
    """Per decision kind: how many, the routing mix, latency p50/p99 and model versions in use."""
    rows = DecisionLog.objects.exclude(kind=DecisionLog.Kind.FEEDBACK)
    if since is not None:
        rows = rows.filter(created__gte=since)
    out: dict[str, Any] = {}
    for kind, output, latency, version in rows.values_list("kind", "output", "latency_ms", "model_version"):
        entry = out.setdefault(kind, {"count": 0, "mix": {}, "latencies": [], "versions": {}})
        route = output.get("action") or output.get("outcome") or "unknown"
        entry["count"] += 1
        entry["mix"][route] = entry["mix"].get(route, 0) + 1
        entry["latencies"].append(latency)
        entry["versions"][version or "none"] = entry["versions"].get(version or "none", 0) + 1
    for entry in out.values():
        latencies = np.asarray(entry.pop("latencies"))
        entry["latency_ms"] = {"p50": round(float(np.percentile(latencies, 50)), 2),
                               "p99": round(float(np.percentile(latencies, 99)), 2)}
    return out
