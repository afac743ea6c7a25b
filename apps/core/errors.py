"""JSON errors for the API: a client always gets a reason, never a stack trace."""
from __future__ import annotations

import logging
from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler

from apps.events.store import EventStoreError
from graph.errors import GraphUnavailable

log = logging.getLogger(__name__)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, GraphUnavailable):
        log.warning("graph store unavailable: %s", exc)
        return Response({"error": "graph_unavailable", "detail": str(exc)}, status=503)
    if isinstance(exc, EventStoreError):  # the graph kept the events: the client's retry copies them
        log.warning("%s", exc)
        return Response({"error": "event_store_unavailable", "detail": str(exc)}, status=503)
    return exception_handler(exc, context)
