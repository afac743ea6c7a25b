"""Reads for decisions: thresholds, rules, the caller's profile and the decision monitor's figures."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from django.db.models import Count, QuerySet, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, TruncDate

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


# The route a decision took: the action of an intent decision, the outcome of a risk decision.
ROUTE = Coalesce(KT("output__action"), KT("output__outcome"), Value("unknown"), output_field=TextField())


def logged(*, since: datetime | None = None, kind: str = "", channel: str = "") -> QuerySet[DecisionLog]:
    """The decision log narrowed the way the monitor's filters narrow it (channel in any case)."""
    rows = DecisionLog.objects.all()
    if since is not None:
        rows = rows.filter(created__gte=since)
    if kind:
        rows = rows.filter(kind=kind)
    if channel:
        rows = rows.filter(channel=channel.upper())
    return rows


def decision_monitor(*, since: datetime | None = None, kind: str = "", channel: str = "") -> dict[str, Any]:
    """Per decision kind: how many, the routing mix, latency p50/p99 and model versions in use.

    Aggregated in the database (a busy hub logs millions of decisions a week)."""
    rows = logged(since=since, kind=kind, channel=channel).exclude(kind=DecisionLog.Kind.FEEDBACK)
    out: dict[str, Any] = {}
    for kind_, count in rows.values_list("kind").annotate(n=Count("id")).order_by("kind"):
        mine = rows.filter(kind=kind_)
        routes = mine.annotate(route=ROUTE).values_list("route").annotate(n=Count("id")).order_by("route")
        versions = mine.values_list("model_version").annotate(n=Count("id")).order_by("model_version")
        out[kind_] = {"count": count, "mix": {route or "unknown": n for route, n in routes},
                      "versions": {version or "none": n for version, n in versions},
                      "latency_ms": {"p50": _percentile(mine, count, 0.50), "p99": _percentile(mine, count, 0.99)}}
    return out


def decisions_per_day(*, since: datetime, kind: str, channel: str = "") -> tuple[list[date], dict[str, list[int]]]:
    """Decisions of one kind per day (UTC) and route, oldest day first, counted in the database."""
    counts: dict[str, dict[date, int]] = defaultdict(dict)
    per_day = (logged(since=since, kind=kind, channel=channel).annotate(day=TruncDate("created"), route=ROUTE)
               .values_list("day", "route").annotate(n=Count("id")).order_by("day", "route"))
    for day, route, n in per_day:
        counts[route or "unknown"][day] = n
    days = sorted({d for by_day in counts.values() for d in by_day})
    return days, {route: [by_day.get(d, 0) for d in days] for route, by_day in sorted(counts.items())}


def recent_decisions(*, since: datetime, kind: str = "", channel: str = "", limit: int = 50) -> list[DecisionLog]:
    """The latest decisions, newest first, each with its `route`."""
    return list(logged(since=since, kind=kind, channel=channel).annotate(route=ROUTE)
                .order_by("-created", "-id")[:limit])


@dataclass(frozen=True)
class FeedbackAccuracy:
    feedback: int
    matched: int
    top1: int
    top3: int

    @property
    def top1_rate(self) -> float | None:
        return round(self.top1 / self.matched, 4) if self.matched else None

    @property
    def top3_rate(self) -> float | None:
        return round(self.top3 / self.matched, 4) if self.matched else None


def feedback_accuracy(*, since: datetime, channel: str = "") -> FeedbackAccuracy:
    """How often the intent we predicted was the one the caller then confirmed (same contact id)."""
    feedback = logged(since=since, kind=DecisionLog.Kind.FEEDBACK, channel=channel).exclude(contact_id="")
    confirmed = {c: (i or {}).get("intent") for c, i in feedback.values_list("contact_id", "inputs")}
    asked = DecisionLog.objects.filter(kind=DecisionLog.Kind.INTENT, contact_id__in=list(confirmed))
    predicted: dict[str, list[str]] = {}
    for contact, output in asked.order_by("created", "id").values_list("contact_id", "output"):
        output = output or {}
        ranked = [output.get("intent")] + [a.get("intent") for a in output.get("alternatives") or []]
        predicted[contact] = [r for r in ranked if r]
    top1 = sum(1 for c, intent in confirmed.items() if predicted.get(c, [None])[:1] == [intent])
    top3 = sum(1 for c, intent in confirmed.items() if intent in predicted.get(c, [])[:3])
    return FeedbackAccuracy(feedback=len(confirmed), matched=sum(1 for c in confirmed if c in predicted),
                            top1=top1, top3=top3)


def _percentile(rows: Any, count: int, q: float) -> float:
    """Linear-interpolated percentile of latency (numpy's default), from the two neighbouring rows of the
    sorted log rather than the whole column."""
    position = q * (count - 1)
    low = int(np.floor(position))
    pair = list(rows.order_by("latency_ms").values_list("latency_ms", flat=True)[low:low + 2])
    value = pair[0] if len(pair) == 1 else pair[0] + (pair[1] - pair[0]) * (position - low)
    return round(float(value), 2)
