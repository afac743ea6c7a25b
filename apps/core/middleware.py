"""Turn a graph-store or database outage into a 503 that says what is down: JSON for the API and
machine clients, the site's page with a banner for people (layout, navigation and what to do)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from graph.errors import GraphUnavailable

log = logging.getLogger(__name__)

OUTAGES = {
    "graph": {
        "title": "The graph store is unreachable",
        "todo": ["Pages that read customers and journeys need the graph store (GRAPH_URL: {url}).",
                 "With the embedded store only one process may open it: stop the other process, or run "
                 "`python manage.py graphserver` and point the web process at it with GRAPH_URL=ws://…",
                 "With a Gremlin server or Amazon Neptune, check that it is running and reachable from here.",
                 "Reload this page once /healthz reports the graph as ok."],
    },
    "database": {
        "title": "The database is unreachable",
        "todo": ["Logins, configuration and ingest batches live in the database (DATABASE_URL).",
                 "Check that the database server is running and that DATABASE_URL points at it; for the "
                 "default SQLite file, that var/ is there and writable.",
                 "Reload this page once /healthz reports the database as ok."],
    },
}


class GraphUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, GraphUnavailable):
            log.warning("graph store unavailable on %s: %s", request.path, exception)
            if wants_page(request):
                return outage_page(request, "graph", exception)
            return JsonResponse({"error": "graph_unavailable", "detail": str(exception)}, status=503)
        if isinstance(exception, OperationalError | InterfaceError) and wants_page(request):
            log.warning("database unavailable on %s: %s", request.path, exception)
            return outage_page(request, "database", exception)
        return None


def wants_page(request: HttpRequest) -> bool:
    """A person's browser asking for a dashboard page (not the API, the health check or a script)."""
    if request.path.startswith(("/api/", "/healthz")):
        return False
    return "text/html" in request.headers.get("Accept", "")


def outage_page(request: HttpRequest, what: str, exception: Exception) -> HttpResponse:
    """The site's layout with a banner. With the database down nothing that reads it is touched:
    the visitor shows as signed out and no messages are read."""
    outage = OUTAGES[what]
    context: dict[str, Any] = {"title": outage["title"], "detail": str(exception)[:500],
               "todo": [line.format(url=settings.GRAPH_URL) for line in outage["todo"]]}
    if what == "database":
        context.update(user=AnonymousUser(), messages=[])
    return render(request, "503.html", context, status=503)
