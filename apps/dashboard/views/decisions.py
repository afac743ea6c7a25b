"""Decision monitor: recent intent and risk decisions, action/outcome mix, latency, feedback accuracy.

Every filter (days, kind, channel) narrows the cards, the summary, the charts and the list alike.
"""
from __future__ import annotations

from datetime import timedelta

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from apps.dashboard import figures
from apps.dashboard.roles import VIEWER, role_required
from apps.dashboard.tables import Column, Table
from apps.dashboard.views.common import choice_or_default, page, parse_int, showing_instead, unavailable
from apps.decisions import selectors as decisions_selectors
from apps.decisions.models import DecisionLog

KINDS = ("intent", "risk", "feedback")
DAYS = 7  # the days shown unless asked
RECENT_COLUMNS = [Column("at", "Time (UTC)"), Column("kind", "Kind"), Column("contact", "Contact"),
                  Column("customer", "Customer"), Column("channel", "Channel"), Column("route", "Action / outcome"),
                  Column("detail", "Intent / score"), Column("confidence", "Confidence", True),
                  Column("model", "Model version"), Column("latency", "Latency ms", True)]
SUMMARY_COLUMNS = [Column("kind", "Kind"), Column("count", "Decisions", True), Column("p50", "Latency p50 ms", True),
                   Column("p99", "Latency p99 ms", True), Column("mix", "Action / outcome mix")]


def _summary_rows(monitor: dict) -> list[dict]:
    rows = []
    for kind, entry in sorted(monitor.items()):
        mix = ", ".join(f"{route} {n}" for route, n in sorted(entry["mix"].items()))
        rows.append({"kind": kind, "count": entry["count"], "p50": entry["latency_ms"]["p50"],
                     "p99": entry["latency_ms"]["p99"], "mix": mix})
    return rows


def _recent_row(d: DecisionLog) -> dict:
    output = d.output or {}
    detail = output.get("intent") if d.kind == "intent" else output.get("score")
    if d.kind == "feedback":
        detail = (d.inputs or {}).get("intent")
    return {"at": f"{d.created:%Y-%m-%d %H:%M:%S}", "kind": d.kind, "contact": d.contact_id,
            "customer": d.customer_id, "channel": d.channel,
            "customer_url": reverse("dashboard:customer", args=[d.customer_id]) if d.customer_id else None,
            "route": "" if d.kind == "feedback" else d.route,  # type: ignore[attr-defined]
            "detail": detail, "confidence": output.get("confidence"), "model": d.model_version,
            "latency": round(d.latency_ms, 2)}


def _charts(since, kind: str, channel: str) -> list:  # type: ignore[no-untyped-def]
    charts = []
    for mix_kind, what in (("intent", "action"), ("risk", "outcome")):
        if kind and kind != mix_kind:
            continue
        xs, series = decisions_selectors.decisions_per_day(since=since, kind=mix_kind, channel=channel)
        if xs:
            charts.append(figures.lines(f"mix-{mix_kind}", f"{mix_kind.title()} decisions per day by {what}",
                                        [d.isoformat() for d in xs], series, kind="bar", stacked=True,
                                        y_title="decisions"))
    return charts


@role_required(VIEWER)
def decisions(request: HttpRequest) -> HttpResponse:
    try:
        days, errors = parse_int(request.GET.get("days"), field="days", default=DAYS, lo=1, hi=365), []
    except ValueError as exc:
        days, errors = DAYS, [showing_instead(exc, f"days={DAYS}")]
    kind, kind_errors = choice_or_default(request, "kind", KINDS, "", shown="every kind")
    channel = (request.GET.get("channel") or "").strip().upper()
    since = timezone.now() - timedelta(days=days)
    base = {"title": "Decision monitor", "days": days, "kind": kind, "channel": channel, "kinds": KINDS,
            "errors": errors + kind_errors}
    try:
        monitor = decisions_selectors.decision_monitor(since=since, kind=kind, channel=channel)
        recent = [_recent_row(d) for d in
                  decisions_selectors.recent_decisions(since=since, kind=kind, channel=channel)]
        accuracy = decisions_selectors.feedback_accuracy(since=since, channel=channel)
        charts = _charts(since, kind, channel)
    except DatabaseError as exc:
        missing = unavailable("The decision log", str(exc))
        return page(request, "dashboard/decisions.html", {**base, "missing": missing})
    recent_table = Table("decisions", f"Latest decisions in the last {days} days", RECENT_COLUMNS, recent,
                         links={"customer": "customer_url"})
    summary = Table("summary", "Decisions, latency and routing mix by kind", SUMMARY_COLUMNS, _summary_rows(monitor))
    context = {**base, "recent": recent_table, "summary": summary, "accuracy": accuracy, "charts": charts,
               "show_accuracy": kind in ("", "intent", "feedback")}
    return page(request, "dashboard/decisions.html", context, tables={"decisions": recent_table, "summary": summary})
