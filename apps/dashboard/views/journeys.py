"""Journey explorer (Sankey with drill-down), top journeys and the funnel builder."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from apps.dashboard.roles import ANALYST, VIEWER, role_required
from apps.dashboard.sources import NotAvailable
from apps.dashboard.views.common import page, unavailable


def _missing(request: HttpRequest, title: str) -> HttpResponse:
    return page(request, "dashboard/simple.html",
                {"title": title, "missing": unavailable(NotAvailable("apps.journeys.selectors"))})


@role_required(VIEWER)
def explorer(request: HttpRequest) -> HttpResponse:
    return _missing(request, "Journey explorer")


@role_required(VIEWER)
def explorer_customers(request: HttpRequest) -> HttpResponse:
    return _missing(request, "Customers behind a path")


@role_required(VIEWER)
def top_journeys(request: HttpRequest) -> HttpResponse:
    return _missing(request, "Top journeys")


@role_required(ANALYST)
def funnel(request: HttpRequest) -> HttpResponse:
    return _missing(request, "Funnel builder")
