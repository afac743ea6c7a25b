"""JSON answers instead of HTML pages: a graph-store outage is a 503 on every path, and an API request
body over the size limit is a 413 that says the limit."""
from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
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


class RequestSizeLimitMiddleware:
    """Refuse an /api/ body larger than DATA_UPLOAD_MAX_MEMORY_SIZE before reading it (by its
    Content-Length), or when reading it finds it too large, with a JSON 413 naming the limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit and request.path.startswith("/api/"):
            return too_large(length, limit)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig) and request.path.startswith("/api/"):
            return too_large(None, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        return None


def too_large(length: int | None, limit: int) -> JsonResponse:
    size = f"{length:,} bytes" if length is not None else "too large"
    return JsonResponse({"detail": f"request body is {size}; the limit is {limit:,} bytes "
                                   "(API_MAX_BODY_BYTES; POST /api/events takes up to 10,000 events)"}, status=413)
