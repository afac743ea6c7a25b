"""Customer search, Customer 360 and the similarity explorer."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from apps.dashboard.roles import VIEWER, role_required
from apps.dashboard.sources import NotAvailable
from apps.dashboard.views.common import page, unavailable


def _missing(request: HttpRequest, title: str, what: str) -> HttpResponse:
    return page(request, "dashboard/simple.html", {"title": title, "missing": unavailable(NotAvailable(what))})


@role_required(VIEWER)
def customers(request: HttpRequest) -> HttpResponse:
    return _missing(request, "Customers", "apps.customers.selectors")


@role_required(VIEWER)
def customer(request: HttpRequest, customer_id: str) -> HttpResponse:
    return _missing(request, f"Customer {customer_id}", "apps.customers.selectors")


@role_required(VIEWER)
def similarity(request: HttpRequest) -> HttpResponse:
    return _missing(request, "Similarity explorer", "apps.journeys.selectors")
