"""Remote (ws://, Neptune) connections with the gateway's error contract: transport failures become
GraphUnavailable (callers answer 503 and keep their data), server refusals become GraphQueryError."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import aiohttp
from gremlin_python.driver.protocol import GremlinServerError
from gremlin_python.driver.remote_connection import RemoteConnection, RemoteTraversal
from gremlin_python.process.traversal import Bytecode

from graph.errors import GraphQueryError, GraphUnavailable
from graph.metrics import timed_call

TRANSPORT_ERRORS = (OSError, aiohttp.ClientError, asyncio.TimeoutError, ConnectionError, RuntimeError)


class GuardedRemoteConnection(RemoteConnection):
    """Wraps a driver connection made by `factory`; a broken connection is dropped and made anew on
    the next call, so a restarted server is picked up without restarting the process. Traversals are
    sent one at a time: the driver's transport runs an event loop per connection that two threads
    must not drive at once (a threaded web worker, or a file ingest's writer and follow-up)."""

    def __init__(self, url: str, factory: Callable[[], RemoteConnection]) -> None:
        super().__init__(url, "g")
        self._factory = factory
        self._remote: RemoteConnection | None = None
        self._lock = threading.RLock()

    def _connection(self) -> RemoteConnection:
        if self._remote is None:
            try:
                self._remote = self._factory()
            except TRANSPORT_ERRORS as exc:
                raise GraphUnavailable(f"cannot reach the graph store at {self.url}: {exc}") from exc
        return self._remote

    def submit(self, bytecode: Bytecode) -> RemoteTraversal:
        with self._lock, timed_call("remote"):
            return self._submit(bytecode)

    def _submit(self, bytecode: Bytecode) -> RemoteTraversal:
        try:
            return self._connection().submit(bytecode)
        except GremlinServerError as exc:
            raise GraphQueryError(f"the graph store refused the traversal: {exc}") from exc
        except TRANSPORT_ERRORS as exc:
            self.close()
            raise GraphUnavailable(f"cannot reach the graph store at {self.url}: {exc}") from exc

    def is_closed(self) -> bool:
        return self._remote is None

    def close(self) -> None:
        with self._lock:
            remote, self._remote = self._remote, None
            if remote is not None:
                try:
                    remote.close()
                except Exception:  # noqa: BLE001 - closing a broken connection must not hide the first error
                    pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection(), name)
