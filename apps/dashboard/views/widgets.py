"""KPI widgets: small embeddable views (iframe-able HTML, and JSON) for an agent desktop."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from apps.dashboard.roles import VIEWER, role_required
from apps.dashboard.sources import NotAvailable
from apps.dashboard.views.common import page, unavailable


@role_required(VIEWER)
def widgets(request: HttpRequest) -> HttpResponse:
    return page(request, "dashboard/simple.html",
                {"title": "KPI widgets", "missing": unavailable(NotAvailable("apps.journeys.selectors"))})


@role_required(VIEWER)
def widget(request: HttpRequest, kpi: str) -> HttpResponse:
    return widgets(request)
