"""Loopback TCP servers that misbehave on purpose: one that accepts and never answers (a black hole),
shared by the deadline tests of the graph store, the health check, S3 and the Lambda handler."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest


class BlackHole:
    """Listens on 127.0.0.1, accepts every connection, reads and discards what arrives, never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.connected = threading.Event()  # set at every accepted connection
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)  # held open, never read into an answer
            self.connected.set()

    def close(self) -> None:
        self._stopped.set()
        self.listener.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()
