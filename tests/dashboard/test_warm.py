"""A web process prepares at start what its first page would otherwise pay for (journeyhub/wsgi.py)."""
from __future__ import annotations

import logging

import pytest
from django.test import Client

import graph
from apps.dashboard import warm
from tests.dashboard import journeys_data
from tests.dashboard.test_pages import graph_calls_of

pytestmark = pytest.mark.django_db


def test_after_the_warm_up_the_first_customers_page_reads_the_graph_once(viewer: Client) -> None:
    """Given a process that has not read the store's figures yet (a new connection), when it warms up,
    then its first customers page makes only the page's own read."""
    graph.reset_connection()
    journeys_data.load()

    warm.warm_up()

    assert graph_calls_of(viewer, "/customers/") == 1


def test_a_store_that_cannot_be_reached_at_start_does_not_stop_the_start(settings, caplog) -> None:  # type: ignore[no-untyped-def]
    settings.GRAPH_URL = "ws://127.0.0.1:9/gremlin"
    graph.reset_connection()
    caplog.set_level(logging.WARNING, logger="apps.dashboard.warm")
    try:
        seconds = warm.warm_up()
    finally:
        graph.reset_connection()

    assert seconds >= 0
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["graph store not opened at start"]
