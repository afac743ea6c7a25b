"""The `backend` fixture: an EMPTY store behind each backend reachable in this run.

"embedded" is the in-process adapter, "server" is the project's Gremlin server reached through the
project's ws:// connection, and "env" is CONFORMANCE_GRAPH_URL when set (a scratch store such as a
TinkerGraph Gremlin Server: its contents are erased before every test).
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from gremlin_python.process.graph_traversal import GraphTraversalSource

import graph
from graph.connection import Connection
from graph.server import BackgroundServer
from tests.graph.server_fixture import clear_store

ENV_URL = os.environ.get("CONFORMANCE_GRAPH_URL", "")
BACKENDS = ["embedded", "server"] + (["env"] if ENV_URL else [])


@pytest.fixture(scope="session")
def server_connection(gremlin_server: BackgroundServer) -> Iterator[Connection]:
    connection = graph.connect(gremlin_server.url)
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def env_connection() -> Iterator[Connection]:
    connection = graph.connect(ENV_URL)
    yield connection
    connection.close()


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest) -> str:
    """The GRAPH_URL of an empty store on each backend (for code that goes through `graph.get_g()`)."""
    if request.param == "embedded":
        return "embedded://memory"
    if request.param == "server":
        return str(request.getfixturevalue("gremlin_server_url"))
    request.getfixturevalue("env_connection").g.V().drop().iterate()
    return ENV_URL


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[GraphTraversalSource]:
    """A GraphTraversalSource on an empty store, once per backend."""
    if request.param == "embedded":
        connection = graph.connect("embedded://memory")
        yield connection.g
        connection.close()
        return
    if request.param == "server":
        server: BackgroundServer = request.getfixturevalue("gremlin_server")
        clear_store(server.server.store)
        yield request.getfixturevalue("server_connection").g
        return
    g = request.getfixturevalue("env_connection").g
    g.V().drop().iterate()
    yield g
