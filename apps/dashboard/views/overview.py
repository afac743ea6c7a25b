"""Overview: headline KPIs with trends, events ingested, active customers, decisions today."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from apps.dashboard import metrics
from apps.dashboard.roles import VIEWER, role_required
from apps.dashboard.tables import Column, Table
from apps.dashboard.views.common import choice_or_default, page


@role_required(VIEWER)
def overview(request: HttpRequest) -> HttpResponse:
    headline = metrics.headline()
    period, errors = choice_or_default(request, "period", metrics.PERIODS, "week")
    kpis = metrics.kpi_cards(period=period)
    rows = [{"name": c.label, "value": c.value, "note": c.note} for c in headline]
    rows += [{"name": k.label, "value": None if k.value is None else round(k.value, 2),
              "note": " · ".join(filter(None, [k.trend_text, k.partial_text]))} for k in kpis.cards]
    table = Table("overview", "Headline figures", [Column("name", "Figure"), Column("value", "Value", True),
                                                    Column("note", "Note")], rows)
    context = {"title": "Overview", "headline": headline, "kpis": kpis, "table": table, "period": period,
               "errors": errors}
    return page(request, "dashboard/overview.html", context, tables={"overview": table})
