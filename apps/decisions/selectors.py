"""Reads for decisions: thresholds, rules, the caller's profile and the decision monitor's figures."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.db.models import Count, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce

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
    """Per decision kind: how many, the routing mix, latency p50/p99 and model versions in use.

    Aggregated in the database (a busy hub logs millions of decisions a week)."""
    rows = DecisionLog.objects.exclude(kind=DecisionLog.Kind.FEEDBACK)
    if since is not None:
        rows = rows.filter(created__gte=since)
    out: dict[str, Any] = {}
    for kind, count in rows.values_list("kind").annotate(n=Count("id")).order_by("kind"):
        mine = rows.filter(kind=kind)
        routes = (mine.annotate(route=Coalesce(KT("output__action"), KT("output__outcome"), Value("unknown"),
                                                output_field=TextField()))
                  .values_list("route").annotate(n=Count("id")).order_by("route"))
        versions = mine.values_list("model_version").annotate(n=Count("id")).order_by("model_version")
        out[kind] = {"count": count, "mix": {route or "unknown": n for route, n in routes},
                     "versions": {version or "none": n for version, n in versions},
                     "latency_ms": {"p50": _percentile(mine, count, 0.50), "p99": _percentile(mine, count, 0.99)}}
    return out


def _percentile(rows: Any, count: int, q: float) -> float:
    """Linear-interpolated percentile of latency (numpy's default), from the two neighbouring rows of the
    sorted log rather than the whole column."""
    position = q * (count - 1)
    low = int(np.floor(position))
    pair = list(rows.order_by("latency_ms").values_list("latency_ms", flat=True)[low:low + 2])
    value = pair[0] if len(pair) == 1 else pair[0] + (pair[1] - pair[0]) * (position - low)
    return round(float(value), 2)
