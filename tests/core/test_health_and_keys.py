"""Health check and API-key authentication, through HTTP as clients use them."""
from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.test import Client

import graph
from apps.core.models import ApiKey, hash_key
from graph.errors import GraphUnavailable

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_graph_ok_to_staff(client: Client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"status": "ok"}
    assert body["graph"] == {"status": "ok", "reachable": True, "probe": 0}


def test_public_healthz_says_only_ok(client: Client) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_healthz_reports_503_when_graph_is_down(client: Client, settings, django_user_model) -> None:  # type: ignore[no-untyped-def]
    settings.GRAPH_URL = "ws://127.0.0.1:9/gremlin"
    graph.reset_connection()
    public = client.get("/healthz")
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))
    response = client.get("/healthz")
    assert (public.status_code, public.json()) == (503, {"status": "degraded"})
    assert response.status_code == 503
    assert response.json()["graph"]["status"] == "down"
    assert "127.0.0.1:9" not in str(public.content) and "url" not in response.json()["graph"]
    assert response.json()["database"] == {"status": "ok"}


def test_create_api_key_prints_a_key_stored_only_hashed(capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("create_api_key", "crm")
    raw = capsys.readouterr().out.strip()
    key = ApiKey.objects.get(name="crm")
    assert key.hashed_key == hash_key(raw)
    assert raw not in key.hashed_key
    assert key.prefix == raw[:8]


def test_api_rejects_missing_and_wrong_keys(client: Client) -> None:
    assert client.get("/api/ping").status_code == 401
    response = client.get("/api/ping", HTTP_AUTHORIZATION="Api-Key nope")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or revoked API key."


def test_api_accepts_a_valid_key_and_refuses_it_once_revoked(client: Client, api_key: str) -> None:
    response = client.get("/api/ping", HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    assert response.status_code == 200
    assert response.json() == {"client": "api-key:test-client"}
    key = ApiKey.objects.get()
    key.revoked = True
    key.save()
    assert client.get("/api/ping", HTTP_AUTHORIZATION=f"Api-Key {api_key}").status_code == 401


def test_graph_unavailable_becomes_json_503() -> None:
    from apps.core.errors import api_exception_handler

    response = api_exception_handler(GraphUnavailable("store down"), {})
    assert response is not None
    assert (response.status_code, response["Content-Type"]) == (503, "application/problem+json")
    assert json.loads(response.content) == {
        "type": "urn:journeyhub:problem:graph-unavailable", "title": "The graph store is unavailable.",
        "status": 503, "detail": "store down", "instance": ""}


def test_revoking_a_key_in_the_admin_is_audited_and_takes_effect_at_once(client: Client, api_key: str) -> None:
    from django.contrib.auth.models import User

    from apps.core.models import AuditEntry

    admin_user = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client.force_login(admin_user)
    key = ApiKey.objects.get()
    response = client.post(f"/admin/core/apikey/{key.pk}/change/",
                           {"name": key.name, "scopes": key.scopes, "revoked": "on"})

    assert response.status_code == 302
    entry = AuditEntry.objects.get(object_type="core.ApiKey", action="change")
    assert (entry.action, entry.user, entry.actor, entry.changes) == ("change", admin_user, "user:root",
                                                                      {"revoked": "True"})
    client.logout()
    assert client.get("/api/ping", HTTP_AUTHORIZATION=f"Api-Key {api_key}").status_code == 401
