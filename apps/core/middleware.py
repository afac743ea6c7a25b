"""Turn a graph-store outage into a 503 JSON answer on every path, not a debug page."""
from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from graph.errors import GraphUnavailable

log = logging.getLogger(__name__)


class GraphUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, GraphUnavailable):
            log.warning("graph store unavailable on %s: %s", request.path, exception)
            return JsonResponse({"error": "graph_unavailable", "detail": str(exception)}, status=503)
        return None
