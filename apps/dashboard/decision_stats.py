"""Decision monitor figures that need the log row by row: mix over time and feedback accuracy.

Counts and latency percentiles come from the decisions app's own `decision_monitor` selector.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.urls import reverse

from apps.dashboard.sources import model


def log_model() -> Any:
    return model("decisions", "DecisionLog")


def route_of(output: dict[str, Any]) -> str:
    return str(output.get("action") or output.get("outcome") or "unknown")


def recent(*, since: datetime, kind: str = "", channel: str = "", limit: int = 50) -> list[dict[str, Any]]:
    rows = log_model().objects.filter(created__gte=since)
    if kind:
        rows = rows.filter(kind=kind)
    if channel:
        rows = rows.filter(channel=channel.upper())
    out = []
    for d in rows.order_by("-created", "-id")[:limit]:
        output = d.output or {}
        detail = output.get("intent") if d.kind == "intent" else output.get("score")
        if d.kind == "feedback":
            detail = (d.inputs or {}).get("intent")
        out.append({"at": f"{d.created:%Y-%m-%d %H:%M:%S}", "kind": d.kind, "contact": d.contact_id,
                    "customer": d.customer_id, "channel": d.channel,
                    "customer_url": reverse("dashboard:customer", args=[d.customer_id]) if d.customer_id else None,
                    "route": "" if d.kind == "feedback" else route_of(output), "detail": detail,
                    "confidence": output.get("confidence"), "model": d.model_version,
                    "latency": round(d.latency_ms, 2)})
    return out


def mix_by_day(*, since: datetime, kind: str, channel: str = "") -> tuple[list[date], dict[str, list[int]]]:
    """Decisions per day and route (action for intent, outcome for risk), oldest day first."""
    rows = log_model().objects.filter(created__gte=since, kind=kind)
    if channel:
        rows = rows.filter(channel=channel.upper())
    counts: dict[str, Counter[date]] = defaultdict(Counter)
    for created, output in rows.values_list("created", "output"):
        counts[route_of(output or {})][created.date()] += 1
    days = sorted({d for c in counts.values() for d in c})
    return days, {route: [c[d] for d in days] for route, c in sorted(counts.items())}


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
    log = log_model()
    feedback = log.objects.filter(created__gte=since, kind="feedback").exclude(contact_id="")
    if channel:
        feedback = feedback.filter(channel=channel.upper())
    confirmed = {c: (i or {}).get("intent") for c, i in feedback.values_list("contact_id", "inputs")}
    asked = log.objects.filter(kind="intent", contact_id__in=list(confirmed)).order_by("created", "id")
    predicted: dict[str, list[str]] = {}
    for contact, output in asked.values_list("contact_id", "output"):
        output = output or {}
        ranked = [output.get("intent")] + [a.get("intent") for a in output.get("alternatives") or []]
        predicted[contact] = [r for r in ranked if r]
    top1 = sum(1 for c, intent in confirmed.items() if predicted.get(c, [None])[:1] == [intent])
    top3 = sum(1 for c, intent in confirmed.items() if intent in predicted.get(c, [])[:3])
    return FeedbackAccuracy(feedback=len(confirmed), matched=sum(1 for c in confirmed if c in predicted),
                            top1=top1, top3=top3)
