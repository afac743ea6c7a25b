"""KPI widgets: small embeddable views (iframe-able HTML, and JSON) for an agent desktop."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt

from apps.dashboard import metrics
from apps.dashboard.roles import VIEWER, role_required
from apps.dashboard.tables import Column, Table
from apps.dashboard.views.common import not_found, page

PERIODS = ("day", "week")


@role_required(VIEWER)
def widgets(request: HttpRequest) -> HttpResponse:
    period = request.GET.get("period") if request.GET.get("period") in PERIODS else "day"
    series = metrics.kpi_series(period=str(period))
    rows = []
    for item in series:
        url = request.build_absolute_uri(reverse("dashboard:widget", args=[item.slug])) + f"?period={period}"
        rows.append({"slug": item.slug, "name": item.name, "latest": item.points[-1][1] if item.points else None,
                     "periods": len(item.points), "url": url, "json": url + "&format=json"})
    table = Table("widgets", f"KPI widgets per {period}", [
        Column("name", "KPI"), Column("latest", "Latest value", True), Column("periods", "Periods stored", True),
        Column("url", "Widget URL"), Column("json", "JSON URL")], rows, links={"name": "url"})
    return page(request, "dashboard/widgets.html", {"title": "KPI widgets", "table": table, "period": period},
                tables={"widgets": table})


@xframe_options_exempt
@role_required(VIEWER)
def widget(request: HttpRequest, kpi: str) -> HttpResponse:
    """One KPI: latest value, change, sparkline. Iframe-able; ?format=json gives the same numbers."""
    period = request.GET.get("period") if request.GET.get("period") in PERIODS else "day"
    found = metrics.kpi_series(period=str(period), slug=kpi, dimension=request.GET.get("dimension") or "all",
                               dimension_value=request.GET.get("value") or "")
    if not found:
        return not_found(request, f"No active KPI {kpi!r}.")
    item = found[0]
    card = metrics.card(item, str(period), metrics.data_end())
    if request.GET.get("format") == "json":
        return JsonResponse({"slug": item.slug, "name": item.name, "unit": item.unit, "period": period,
                             "latest": card.value, "previous": card.previous, "change": card.change,
                             "points": [{"period_start": x.isoformat(), "value": y} for x, y in item.points]})
    context = {"item": item, "card": card, "period": period}
    return render(request, "dashboard/widget.html", context)
