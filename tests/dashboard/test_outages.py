"""When the graph store or the database is down, dashboard pages keep the site's layout and say what is
unreachable and what to do (503); the API keeps answering JSON."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import OperationalError, connection
from django.test import Client

import graph
from tests.problems import problem

pytestmark = pytest.mark.django_db
DOWN = "ws://127.0.0.1:9/gremlin"


@pytest.fixture
def store_down(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    settings.GRAPH_URL = DOWN
    graph.reset_connection()
    yield
    graph.reset_connection()


@pytest.mark.parametrize("url", ["/", "/journeys/explorer/", "/journeys/top/", "/customers/", "/customers/c1/",
                                 "/similarity/?customer=c1"])
def test_a_page_needing_the_store_keeps_its_layout_and_says_what_is_down_and_what_to_do(
        viewer: Client, store_down: None, url: str) -> None:
    response = viewer.get(url, HTTP_ACCEPT="text/html,application/xhtml+xml")

    html = response.content.decode()
    assert (response.status_code, response["Content-Type"]) == (503, "text/html; charset=utf-8")
    assert '<nav aria-label="Main" class="main-nav">' in html
    assert '<section class="card outage" role="alert">' in html
    assert "<h1>The graph store is unreachable</h1>" in html
    assert "(GRAPH_URL: set on the server)" in html and DOWN not in html  # addresses and errors: staff only
    assert "python manage.py graphserver" in html and 'href="/healthz"' in html


def test_staff_see_which_store_is_down_and_why(client: Client, store_down: None) -> None:
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_user("ops", is_staff=True, is_superuser=True))

    html = client.get("/customers/", HTTP_ACCEPT="text/html").content.decode()

    assert f"(GRAPH_URL: {DOWN})" in html
    assert "127.0.0.1:9" in html.split('<section class="card outage" role="alert">', 1)[1]


def test_the_api_keeps_answering_json_when_the_store_is_down(api_client, store_down: None) -> None:  # type: ignore[no-untyped-def]
    response = api_client.get("/api/customers/c1")

    assert response.status_code == 503
    assert problem(response)["type"] == "urn:journeyhub:problem:graph-unavailable"


def test_a_page_when_the_database_is_down_keeps_its_layout_and_says_so(viewer: Client) -> None:
    def refuse(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        raise OperationalError("unable to open database file")

    with connection.execute_wrapper(refuse):
        response = viewer.get("/ingest/", HTTP_ACCEPT="text/html")

    html = response.content.decode()
    assert response.status_code == 503
    assert "<h1>The database is unreachable</h1>" in html
    assert "DATABASE_URL" in html
    assert "unable to open database file" not in html  # a database error can name hosts: never shown here
    assert '<footer class="foot" role="contentinfo">' in html
