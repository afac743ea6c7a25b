"""Decision monitor: recent intent and risk decisions, action/outcome mix, latency, feedback accuracy."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from apps.dashboard.roles import VIEWER, role_required
from apps.dashboard.sources import NotAvailable
from apps.dashboard.views.common import page, unavailable


@role_required(VIEWER)
def decisions(request: HttpRequest) -> HttpResponse:
    return page(request, "dashboard/simple.html",
                {"title": "Decision monitor", "missing": unavailable(NotAvailable("decisions.DecisionLog"))})
