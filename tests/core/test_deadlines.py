"""Deadlines on remote calls: with GRAPH_URL at a server that accepts connections and never answers,
the health check, event ingest and risk decisions answer quickly with a 503 instead of hanging."""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.test import Client

import graph
from tests.netfixtures import BlackHole
from tests.problems import problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def graph_black_hole(settings, client: Client) -> Iterator[BlackHole]:  # type: ignore[no-untyped-def]
    """GRAPH_URL at a black hole, in a warm process (a deployed server loads its URL modules at start)."""
    client.get("/api/ping")
    hole = BlackHole()
    settings.GRAPH_URL = f"ws://127.0.0.1:{hole.port}/gremlin"
    graph.reset_connection()
    yield hole
    graph.reset_connection()
    hole.close()


def test_healthz_answers_degraded_within_two_seconds_when_the_store_never_answers(
        client: Client, graph_black_hole: BlackHole, django_user_model) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    public = client.get("/healthz")
    public_elapsed = time.monotonic() - started
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))
    started = time.monotonic()
    staff = client.get("/healthz")
    staff_elapsed = time.monotonic() - started

    assert (public.status_code, public.json()) == (503, {"status": "degraded"})
    assert public_elapsed < 2.0 and staff_elapsed < 2.0, (public_elapsed, staff_elapsed)
    assert staff.status_code == 503
    assert staff.json()["graph"] == {"status": "down", "detail": "the graph store did not answer within 1.5 s"}
    assert staff.json()["database"] == {"status": "ok"}


def test_post_events_fails_fast_with_a_json_503(api_client, graph_black_hole: BlackHole, settings) -> None:  # type: ignore[no-untyped-def]
    settings.GRAPH_CONNECT_TIMEOUT = 1.0
    graph.reset_connection()
    event = {"customer_id": "c1", "event_id": "e1", "event_type": "call", "channel": "phone",
             "timestamp": "2026-01-05T10:00:00Z"}

    started = time.monotonic()
    response = api_client.post("/api/events", [event], format="json")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert problem(response)["type"] == "urn:journeyhub:problem:graph-unavailable"
    assert "no WebSocket handshake within 1 s" in response.json()["detail"]
    assert elapsed < 5.0


def test_risk_decision_fails_fast_with_a_json_503(api_client, graph_black_hole: BlackHole, settings) -> None:  # type: ignore[no-untyped-def]
    settings.GRAPH_CONNECT_TIMEOUT = 1.0
    graph.reset_connection()

    started = time.monotonic()
    response = api_client.post("/api/decisions/risk", {"phone": "+61412345678", "contact_id": "r-1"},
                               format="json")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert problem(response)["type"] == "urn:journeyhub:problem:graph-unavailable"
    assert elapsed < 5.0


def test_while_the_store_fails_one_request_retries_it_and_the_others_are_answered_at_once(
        graph_black_hole: BlackHole, settings) -> None:  # type: ignore[no-untyped-def]
    """Requests do not queue behind a retry of a store that is not answering (one traversal at a time
    goes to a remote store)."""
    import threading

    from graph.errors import GraphUnavailable

    settings.GRAPH_CONNECT_TIMEOUT = 1.0
    graph.reset_connection()
    with pytest.raises(GraphUnavailable):
        graph.get_g().V().limit(1).count().next()  # the first failure
    graph_black_hole.connected.clear()
    retry = threading.Thread(target=lambda: pytest.raises(GraphUnavailable, graph.get_g().V().count().next))
    retry.start()
    assert graph_black_hole.connected.wait(5)  # the retry is connecting, holding the store's turn

    started = time.monotonic()
    with pytest.raises(GraphUnavailable, match="another request is trying it again"):
        graph.get_g().V().limit(1).count().next()
    elapsed = time.monotonic() - started
    retry.join(5)

    assert elapsed < 0.5
