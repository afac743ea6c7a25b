"""Health check for load balancers and people: database and graph store status."""
from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse

import graph


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
