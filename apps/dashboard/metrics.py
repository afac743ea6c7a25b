"""Headline figures for the overview and the KPI widgets, gathered from other apps' selectors."""
from __future__ import annotations

import logging
import time as time_
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError
from django.utils import timezone

from apps.dashboard.sources import NotAvailable, call, function, model

log_ = logging.getLogger(__name__)


def number(value: Any) -> str:
    """Whole numbers with thousands separators, others to at most two decimals."""
    if value is None:
        return "–"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{float(value):,.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Card:
    key: str
    label: str
    value: Any
    note: str = ""
    available: bool = True

    @property
    def shown(self) -> str:
        return number(self.value)


@dataclass(frozen=True)
class KpiCard:
    slug: str
    label: str
    value: float | None
    previous: float | None
    unit: str
    points: list[tuple[str, float]]

    @property
    def spark(self) -> str:
        return spark_points([y for _, y in self.points])

    @property
    def spark_label(self) -> str:
        if not self.points:
            return ""
        return (f"{self.label}: {len(self.points)} periods from {self.points[0][0]} ({self.points[0][1]}) "
                f"to {self.points[-1][0]} ({self.points[-1][1]})")

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return round(self.value - self.previous, 4)

    @property
    def shown(self) -> str:
        return "–" if self.value is None else f"{number(self.value)}{self.unit}"

    @property
    def trend_text(self) -> str:
        change = self.change
        if change is None:
            return "no earlier period"
        if change == 0:
            return "same as the previous period"
        return f"{'▲ +' if change > 0 else '▼ '}{number(change)}{self.unit} vs the previous period"

    @property
    def direction(self) -> str:
        change = self.change
        return "" if not change else ("up" if change > 0 else "down")


@dataclass(frozen=True)
class KpiCards:
    cards: list[KpiCard] = field(default_factory=list)
    missing: str = ""


COUNTS_MAX_AGE_SECONDS = 15.0
_counts: dict[str, tuple[Any, float, Any]] = {}


def _fresh(name: str, load: Any) -> Any:
    """Whole-store counts scan every vertex; a few seconds' staleness on the overview is fine."""
    connection = call("graph", "get_connection")
    hit = _counts.get(name)
    now = time_.monotonic()
    if hit is not None and hit[0] is connection and now - hit[1] < COUNTS_MAX_AGE_SECONDS:
        return hit[2]
    value = load()
    _counts[name] = (connection, now, value)
    return value


def _graph_counts() -> dict[str, int] | None:
    try:
        return _fresh("counts", lambda: call("graph.journeys", "graph_counts"))
    except NotAvailable:
        return None


def decisions_today() -> int | None:
    """Decisions logged since midnight UTC, or None when the decision log does not exist yet."""
    try:
        log = model("decisions", "DecisionLog")
    except NotAvailable:
        return None
    midnight = timezone.make_aware(datetime.combine(timezone.now().date(), time.min))
    stamp = next((f.name for f in log._meta.get_fields() if f.name in ("created", "at", "created_at", "ts")), None)
    if stamp is None:
        return None
    try:
        return int(log.objects.filter(**{f"{stamp}__gte": midnight}).count())
    except DatabaseError:  # the decision log's table is not migrated yet
        log_.warning("decision log table is not available", exc_info=True)
        return None


def headline() -> list[Card]:
    counts = _graph_counts()
    today = decisions_today()
    missing = "not available yet"
    return [
        Card("events", "Events ingested", counts.get("event") if counts else None,
             "" if counts else missing, counts is not None),
        Card("customers", "Customers", counts.get("customer") if counts else None,
             "" if counts else missing, counts is not None),
        Card("active_customers", "Active customers (30 days)", active_customers(), "with an event in the last 30 days"
             " of data"),
        Card("decisions_today", "Decisions today", today, "" if today is not None else missing, today is not None),
    ]


def active_customers(days: int = 30) -> int | None:
    try:
        return _fresh(f"active-{days}", lambda: call("graph.journeys", "active_customer_count", days=days))
    except NotAvailable:
        return None


def kpi_series(*, period: str = "day", slug: str | None = None, dimension: str = "all",
               dimension_value: str = "", last: int = 30) -> list[Any]:
    """Stored series of every active KPI (or of one, by slug; [] when there is no such KPI), last periods."""
    if slug is None:
        return list(call("apps.journeys.selectors", "headline_kpis", period=period, last=last))
    try:
        series = call("apps.journeys.selectors", "kpi_series", slug=slug, period=period, dimension=dimension,
                      dimension_value=dimension_value)
    except ObjectDoesNotExist:
        return []
    display = function("apps.journeys.selectors", "display_value")
    points = tuple((d, display(v, series.unit)) for d, v in series.points[-last:])
    return [replace(series, points=points, detail=series.detail[-last:])]


def kpi_cards(*, period: str = "day") -> KpiCards:
    """Each stored KPI's latest value, the period before, and a sparkline of its history."""
    try:
        series = kpi_series(period=period)
    except NotAvailable as exc:
        return KpiCards(missing=str(exc))
    return KpiCards(cards=[card(item, period) for item in series])


def card(item: Any, period: str) -> KpiCard:
    xs = [p[0].isoformat() for p in item.points]
    ys = [p[1] for p in item.points]
    return KpiCard(slug=item.slug, label=item.name, value=ys[-1] if ys else None,
                   previous=ys[-2] if len(ys) > 1 else None, unit=item.unit, points=list(zip(xs, ys, strict=True)))


def spark_points(values: list[float], *, width: int = 120, height: int = 28) -> str:
    """SVG polyline points for a sparkline, drawn by the browser with no JavaScript."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - (v - lo) / span * height:.1f}" for i, v in enumerate(values))
