"""Headline figures for the overview and the KPI widgets, gathered from other apps' selectors.

KPI cards show complete periods: a period is complete once the data has moved past its end (the
latest event happened on or after the day it ends). The period the data ends in is still running
and is shown beside the card as partial, never as the headline value or its trend.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from apps.customers import selectors as customer_selectors
from apps.decisions.models import DecisionLog
from apps.journeys import selectors as journey_selectors
from apps.journeys.models import KpiDefinition, KpiValue

PERIOD_DAYS = {"day": 1, "week": 7}
PERIODS = tuple(KpiValue.Period.values)  # what KPI values are stored per, and a page or widget may ask for
DIMENSIONS = tuple(KpiValue.Dimension.values)


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
    points: list[tuple[str, float]]  # complete periods only
    period: str = "day"
    partial: tuple[str, float] | None = None  # the running period: its start and value so far

    @property
    def spark(self) -> str:
        return spark_points([y for _, y in self.points])

    @property
    def spark_label(self) -> str:
        if not self.points:
            return ""
        (first, low), (last, high) = self.points[0], self.points[-1]
        return (f"{self.label}: {len(self.points)} periods from {first} ({number(low)}) "
                f"to {last} ({number(high)})")

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return round(self.value - self.previous, 4)

    @property
    def shown(self) -> str:
        return "–" if self.value is None else f"{number(self.value)}{self.unit}"

    @property
    def partial_text(self) -> str:
        if self.partial is None:
            return ""
        return f"{self.partial[0]} so far (partial): {number(self.partial[1])}{self.unit}"

    @property
    def trend_text(self) -> str:
        change = self.change
        if change is None:
            return "no earlier complete period"
        before = f"the {self.period} before ({self.points[-2][0]})"
        if change == 0:
            return f"same as {before}"
        return f"{'▲ +' if change > 0 else '▼ '}{number(change)}{self.unit} vs {before}"

    @property
    def direction(self) -> str:
        change = self.change
        return "" if not change else ("up" if change > 0 else "down")


@dataclass(frozen=True)
class KpiCards:
    cards: list[KpiCard] = field(default_factory=list)
    missing: str = ""


def decisions_today() -> int:
    """Decisions logged since midnight UTC."""
    midnight = timezone.make_aware(datetime.combine(timezone.now().date(), time.min))
    return DecisionLog.objects.filter(created__gte=midnight).count()


def data_end() -> date | None:
    return customer_selectors.store_figures().data_end


def headline() -> list[Card]:
    store = customer_selectors.store_figures()
    active_note = (f"with an event in the {store.active_days} days to {store.data_end:%Y-%m-%d} (the latest event)"
                   if store.data_end else "no events yet")
    return [
        Card("events", "Events ingested", store.events),
        Card("customers", "Customers", store.customers),
        Card("active_customers", f"Active customers ({store.active_days} days)", store.active, active_note),
        Card("decisions_today", "Decisions today", decisions_today()),
    ]


def kpi_series(*, period: str = "day", slug: str | None = None, dimension: str = "all",
               dimension_value: str = "", last: int = 30) -> list[Any]:
    """Stored series of every active KPI (or of one, by slug; [] when there is no such KPI), last periods."""
    if slug is None:
        return list(journey_selectors.headline_kpis(period=period, last=last))
    try:
        series = journey_selectors.kpi_series(slug=slug, period=period, dimension=dimension,
                                              dimension_value=dimension_value)
    except KpiDefinition.DoesNotExist:
        return []
    points = tuple((d, journey_selectors.display_value(v, series.unit)) for d, v in series.points[-last:])
    return [replace(series, points=points, detail=series.detail[-last:])]


def kpi_dimension_values(slug: str, period: str) -> dict[str, list[str]]:
    """The channels and segments one KPI has stored values for."""
    return journey_selectors.kpi_dimension_values(slug=slug, period=period)


def kpi_cards(*, period: str = "day") -> KpiCards:
    """Each stored KPI's latest complete value, the complete period before, and a sparkline."""
    end = data_end()
    return KpiCards(cards=[card(item, period, end) for item in kpi_series(period=period)])


def card(item: Any, period: str, end: date | None = None) -> KpiCard:
    """With `end` (the data's last day) periods that end after it are not complete: the one that
    holds it is the partial one, later ones (none in practice) are left out."""
    length = timedelta(days=PERIOD_DAYS.get(period, 1))
    complete = [(d, v) for d, v in item.points if end is None or d + length <= end]
    running = [(d, v) for d, v in item.points if end is not None and d <= end < d + length]
    points = [(d.isoformat(), v) for d, v in complete]
    return KpiCard(slug=item.slug, label=item.name, value=points[-1][1] if points else None,
                   previous=points[-2][1] if len(points) > 1 else None, unit=item.unit, points=points,
                   period=period, partial=(running[0][0].isoformat(), running[0][1]) if running else None)


def spark_points(values: list[float], *, width: int = 120, height: int = 28) -> str:
    """SVG polyline points for a sparkline, drawn by the browser with no JavaScript."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - (v - lo) / span * height:.1f}" for i, v in enumerate(values))
