"""Deadlines of remote graph calls against real loopback servers: one that completes the WebSocket
handshake and then never answers a traversal (bounded by GRAPH_READ_TIMEOUT)."""
from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import aiohttp
import pytest
import websockets

import graph
from graph.errors import GraphUnavailable


class SilentGremlinServer:
    """Accepts WebSocket connections on 127.0.0.1 and reads every request without ever answering."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def swallow(connection: websockets.ServerConnection) -> None:
            async for _ in connection:
                pass

        async def start() -> None:
            self.server = await websockets.serve(swallow, "127.0.0.1", 0)
            self.port = self.server.sockets[0].getsockname()[1]
            self.ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def silent_server() -> Iterator[SilentGremlinServer]:
    server = SilentGremlinServer()
    yield server
    server.close()


def test_a_store_that_never_answers_a_traversal_is_unavailable_after_the_read_deadline(
        settings, silent_server: SilentGremlinServer) -> None:  # type: ignore[no-untyped-def]
    settings.GRAPH_URL = f"ws://127.0.0.1:{silent_server.port}/gremlin"
    settings.GRAPH_READ_TIMEOUT = 0.5
    graph.reset_connection()

    started = time.monotonic()
    with pytest.raises(GraphUnavailable, match="cannot reach the graph store"):
        graph.get_g().V().limit(1).count().next()
    elapsed = time.monotonic() - started

    assert 0.5 <= elapsed < 3.0


def test_a_failed_handshake_leaves_no_session_or_loop_open() -> None:
    from graph.remote import Deadlines, DeadlineTransport

    with socket.socket() as probe:  # a loopback port nobody listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = DeadlineTransport(Deadlines(connect=2.0, read=2.0))
    with pytest.raises(aiohttp.ClientConnectorError):
        transport.connect(f"ws://127.0.0.1:{port}/gremlin")
    assert transport._loop.is_closed()
    assert transport._client_session is None
