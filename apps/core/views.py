"""Health check for load balancers and people (database and graph store status), and metrics for scrapers."""
from __future__ import annotations

import hmac

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST

import graph
from apps.core import observability


def _database_status() -> dict[str, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok"}
    except Exception as exc:  # noqa: BLE001 - any failure means the database is down
        return {"status": "down", "detail": str(exc)}


def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_status(), "graph": graph.health()}
    healthy = all(c["status"] == "ok" for c in checks.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503)


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition for scrapers (`Authorization: Bearer $METRICS_TOKEN`) and staff users.

    Latency per route, decisions, ingest rows and lag, graph call latency and job queue depth tell an
    operator who may call the hub how it is doing; the figures are not for the public."""
    token = settings.METRICS_TOKEN
    supplied = request.headers.get("Authorization", "")
    allowed = bool(token) and hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode())
    if not allowed and not (request.user.is_authenticated and request.user.is_staff):
        status = 403 if supplied or request.user.is_authenticated else 401
        return JsonResponse({"error": "forbidden", "detail": "metrics need the scrape token or a staff login"},
                            status=status)
    return HttpResponse(observability.exposition(), content_type=CONTENT_TYPE_LATEST)
