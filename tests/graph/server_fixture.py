"""A running Gremlin server over an in-memory embedded store, shared by every test of a session.

Reuse from another test package by importing the fixtures into its conftest.py:
    from tests.graph.server_fixture import gremlin_server, gremlin_server_url  # noqa: F401
`gremlin_server_url` empties the store first, so each test starts from an empty graph.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from graph.embedded import EmbeddedStore
from graph.server import BackgroundServer
from graph.translate import Script


def clear_store(store: EmbeddedStore) -> None:
    store.run(Script(text="g.V().drop()", discard=True))


@pytest.fixture(scope="session")
def gremlin_server() -> Iterator[BackgroundServer]:
    """Started once; `start()` returns when the socket is bound (a readiness event, bounded by a deadline)."""
    store = EmbeddedStore("memory")
    server = BackgroundServer(store).start()
    yield server
    server.stop()
    store.close()


@pytest.fixture
def gremlin_server_url(gremlin_server: BackgroundServer) -> str:
    """ws://127.0.0.1:<port>/gremlin of the session's server, its store emptied for this test."""
    clear_store(gremlin_server.server.store)
    return gremlin_server.url
