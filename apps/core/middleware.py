"""Outages and oversized bodies answered clearly: a graph-store or database outage is a 503 that says
what is down (problem details for the API, JSON for other machine clients, the site's page with a
banner for people), and an API request body over the size limit is a 413 problem that says the limit."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from apps.core.problems import is_api, problem_response
from graph.errors import GraphUnavailable

log = logging.getLogger(__name__)

OUTAGES = {
    "graph": {
        "title": "The graph store is unreachable",
        "remedy": ["Pages that read customers and journeys need the graph store (GRAPH_URL: {url}).",
                 "With the embedded store only one process may open it: stop the other process, or run "
                 "`python manage.py graphserver` and point the web process at it with GRAPH_URL=ws://…",
                 "With a Gremlin server or Amazon Neptune, check that it is running and reachable from here.",
                 "Reload this page once /healthz reports the graph as ok."],
    },
    "database": {
        "title": "The database is unreachable",
        "remedy": ["Logins, configuration and ingest batches live in the database (DATABASE_URL).",
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
            if is_api(request):
                return problem_response(request, 503, str(exception), type_name="graph-unavailable")
            return JsonResponse({"error": "graph_unavailable", "detail": str(exception)}, status=503)
        if isinstance(exception, OperationalError | InterfaceError):
            if wants_page(request):
                log.warning("database unavailable on %s: %s", request.path, exception)
                return outage_page(request, "database", exception)
            if is_api(request):  # the error text can name hosts and files: logged, not sent
                log.warning("database unavailable on %s: %s", request.path, exception)
                return problem_response(request, 503, "The database did not answer; try again shortly.",
                                        type_name="database-unavailable")
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
    # error text and the store's address can name hosts and credentials: staff only, as on /healthz
    staff = what != "database" and getattr(getattr(request, "user", None), "is_staff", False)
    context: dict[str, Any] = {"title": outage["title"], "detail": str(exception)[:500] if staff else "",
                               "remedy": [line.format(url=settings.GRAPH_URL if staff else "set on the server")
                                        for line in outage["remedy"]]}
    if what == "database":
        context.update(user=AnonymousUser(), messages=[])
    return render(request, "503.html", context, status=503)


class RequestSizeLimitMiddleware:
    """Refuse an /api/ body larger than DATA_UPLOAD_MAX_MEMORY_SIZE before reading it (by its
    Content-Length), or when reading it finds it too large, with a 413 problem naming the limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit and request.path.startswith("/api/"):
            return too_large(request, length, limit)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig) and request.path.startswith("/api/"):
            return too_large(request, None, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        return None


def too_large(request: HttpRequest, length: int | None, limit: int) -> HttpResponse:
    size = f"{length:,} bytes" if length is not None else "too large"
    return problem_response(request, 413, f"request body is {size}; the limit is {limit:,} bytes "
                                          "(API_MAX_BODY_BYTES; POST /api/events takes up to 10,000 events)")
