"""Run a test package against both stores: the embedded engine in process, and the project's own
Gremlin server over WebSocket (the ws:// path that Gremlin Server and Neptune deployments take)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

import graph


@pytest.fixture(params=["embedded", "server"])
def graph_backend(request, settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "server":
        settings.GRAPH_URL = request.getfixturevalue("gremlin_server_url")
    graph.reset_connection()
    yield request.param
    graph.reset_connection()
