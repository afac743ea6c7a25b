"""KPI widgets: small embeddable views (iframe-able HTML, and JSON) for an agent desktop."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt

from apps.core.problems import problem_response
from apps.dashboard import metrics
from apps.dashboard.roles import VIEWER, role_required
from apps.dashboard.tables import Column, Table
from apps.dashboard.views.common import choice_or_default, not_found, page, parse_choice
from apps.journeys.models import kpi_slice_error

FORMATS = ("html", "json")


@role_required(VIEWER)
def widgets(request: HttpRequest) -> HttpResponse:
    period, errors = choice_or_default(request, "period", metrics.PERIODS, "day")
    series = metrics.kpi_series(period=period)
    rows = []
    for item in series:
        url = request.build_absolute_uri(reverse("dashboard:widget", args=[item.slug])) + f"?period={period}"
        rows.append({"slug": item.slug, "name": item.name, "latest": item.points[-1][1] if item.points else None,
                     "periods": len(item.points), "url": url, "json": url + "&format=json"})
    table = Table("widgets", f"KPI widgets per {period}", [
        Column("name", "KPI"), Column("latest", "Latest value", True), Column("periods", "Periods stored", True),
        Column("url", "Widget URL"), Column("json", "JSON URL")], rows, links={"name": "url"})
    return page(request, "dashboard/widgets.html", {"title": "KPI widgets", "table": table, "period": period,
                                                    "errors": errors}, tables={"widgets": table})


@xframe_options_exempt
@role_required(VIEWER)
def widget(request: HttpRequest, kpi: str) -> HttpResponse:
    """One KPI: latest value, change, sparkline. Iframe-able; ?format=json gives the same numbers. A
    parameter out of its choices is refused by name (400), as the REST API's widget refuses it."""
    as_json = request.GET.get("format") == "json"
    try:
        parse_choice(request.GET.get("format"), field="format", choices=FORMATS, default="html")
        period, dimension, value = _widget_query(request)
    except ValueError as exc:
        return _refused(request, as_json, str(exc))
    found = metrics.kpi_series(period=period, slug=kpi, dimension=dimension, dimension_value=value)
    if not found:
        return not_found(request, f"No active KPI {kpi!r}.")
    item = found[0]
    if dimension != "all" and not item.points:
        stored = metrics.kpi_dimension_values(kpi, period).get(dimension, [])
        return _refused(request, as_json, f"value: {kpi!r} has no values stored per {period} for {dimension} "
                        f"{value!r} (stored: {', '.join(stored) or 'none'})", status=404)
    card = metrics.card(item, period, metrics.data_end())
    if as_json:
        return JsonResponse({"slug": item.slug, "name": item.name, "unit": item.unit, "period": period,
                             "latest": card.value, "previous": card.previous, "change": card.change,
                             "points": [{"period_start": x.isoformat(), "value": y} for x, y in item.points]})
    return render(request, "dashboard/widget.html", {"item": item, "card": card, "period": period})


def _widget_query(request: HttpRequest) -> tuple[str, str, str]:
    """(period, dimension, value); a ValueError whose message starts with the parameter at fault."""
    period = parse_choice(request.GET.get("period"), field="period", choices=metrics.PERIODS, default="day")
    dimension = parse_choice(request.GET.get("dimension"), field="dimension", choices=metrics.DIMENSIONS, default="all")
    value = (request.GET.get("value") or "").strip()
    problem = kpi_slice_error(dimension, value)
    if problem:
        raise ValueError(f"value: {problem}")
    return period, dimension, value


def _refused(request: HttpRequest, as_json: bool, message: str, *, status: int = 400) -> HttpResponse:
    """The widget's own error (`message` is "<parameter>: <what is wrong>"): a problem naming the
    parameter (JSON), or the message where the card would be (HTML)."""
    if as_json:
        field, detail = message.split(": ", 1)
        return problem_response(request, status, message, type_name="invalid-request" if status == 400 else None,
                                errors=[{"field": field, "detail": detail, "code": "invalid"}])
    return render(request, "dashboard/widget.html", {"error": message}, status=status)
