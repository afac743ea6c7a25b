"""Health check for load balancers and people (database and graph store status), and metrics for scrapers.

A load balancer needs an answer in time more than a detailed one, so the graph probe runs in its own
thread and the check answers within HEALTHZ_TIMEOUT whatever the store does (a store that accepts
connections and never answers is reported down). Anyone sees only ok/degraded; which part failed and
why is shown to staff only (error text can name hosts, files and versions).
"""
from __future__ import annotations

import hmac
import re
import threading
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST

import graph
from apps.core import observability
from apps.core.problems import problem_response


def _database_status() -> dict[str, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"status": "ok"}
    except Exception as exc:  # noqa: BLE001 - any failure means the database is down
        return {"status": "down", "detail": str(exc)[:300]}


class _GraphProbe:
    """At most one graph probe runs at a time; a caller waits for it up to its budget. A probe still
    running from an earlier check is waited on, not doubled, so a hanging store never piles up threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._done.set()
        self._result: dict[str, Any] = {}

    def status(self, budget: float) -> dict[str, Any]:
        with self._lock:
            if self._done.is_set():
                self._done.clear()
                threading.Thread(target=self._run, name="healthz-graph-probe", daemon=True).start()
            done = self._done
        if not done.wait(budget):
            return {"status": "down", "detail": f"the graph store did not answer within {budget:g} s"}
        return dict(self._result)

    def _run(self) -> None:
        try:
            result = graph.health()
        except Exception as exc:  # noqa: BLE001 - health reports any failure
            result = {"status": "down", "detail": str(exc)[:300]}
        if "detail" in result:
            result["detail"] = _without_location(str(result["detail"]))
        self._result = {key: value for key, value in result.items() if key != "url"}
        self._done.set()


def _without_location(text: str) -> str:
    """Error text with the store's address taken out (it may carry credentials or internal hosts)."""
    url = str(settings.GRAPH_URL)
    host = urlparse(url).hostname
    text = text.replace(url, "GRAPH_URL")
    return re.sub(rf"\S*{re.escape(host)}\S*", "GRAPH_URL", text) if host else text


_graph_probe = _GraphProbe()


def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_status(), "graph": _graph_probe.status(settings.HEALTHZ_TIMEOUT)}
    healthy = all(c["status"] == "ok" for c in checks.values())
    body: dict[str, Any] = {"status": "ok" if healthy else "degraded"}
    if getattr(request.user, "is_staff", False):
        body.update(checks)
    return JsonResponse(body, status=200 if healthy else 503)


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition for scrapers (`Authorization: Bearer $METRICS_TOKEN`) and staff users.

    Latency per route, decisions, ingest rows and lag, graph call latency and job queue depth tell an
    operator who may call the hub how it is doing; the figures are not for the public."""
    token = settings.METRICS_TOKEN
    supplied = request.headers.get("Authorization", "")
    allowed = bool(token) and hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode())
    if not allowed and not (request.user.is_authenticated and request.user.is_staff):
        status = 403 if supplied or request.user.is_authenticated else 401
        return problem_response(request, status, "metrics need the scrape token or a staff login")
    return HttpResponse(observability.exposition(), content_type=CONTENT_TYPE_LATEST)
