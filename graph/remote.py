"""Remote (ws://, Neptune) connections with the gateway's error contract: transport failures become
GraphUnavailable (callers answer 503 and keep their data), server refusals become GraphQueryError.

Every remote call has a deadline: the WebSocket handshake must finish within GRAPH_CONNECT_TIMEOUT
and each frame of an answer must arrive within GRAPH_READ_TIMEOUT (gremlinpython's own transport
waits for the handshake as long as aiohttp's five-minute default). A server that accepts the TCP
connection and never answers therefore costs a caller seconds, not minutes.

The project's own ws:// connections (graphserver, Gremlin Server) use `WireRemoteConnection`: one
WebSocket from the `websockets` library, used by the calling thread, with gremlinpython's request
serializer and the fast GraphBinary result reader. gremlinpython's driver hands every request to two
pool threads and runs an event loop per call, which cost about three times the CPU of a short read's
whole client side; Neptune keeps the driver (its signed handshake headers are made per connection).
"""
from __future__ import annotations

import asyncio
import base64
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from gremlin_python.driver.aiohttp.transport import AiohttpTransport
from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.driver.protocol import GremlinServerError
from gremlin_python.driver.remote_connection import RemoteConnection, RemoteTraversal
from gremlin_python.driver.request import RequestMessage
from gremlin_python.process.traversal import Bytecode
from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from graph.errors import GraphQueryError, GraphUnavailable
from graph.metrics import timed_call

TRANSPORT_ERRORS = (OSError, aiohttp.ClientError, asyncio.TimeoutError, ConnectionError, RuntimeError,
                    WebSocketException)
MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # gremlinpython's default frame limit


@dataclass(frozen=True)
class Deadlines:
    """Seconds a remote graph call may spend opening its connection and waiting for each answer frame."""

    connect: float = 5.0
    read: float = 60.0

    @classmethod
    def from_settings(cls) -> Deadlines:
        from django.conf import settings

        return cls(connect=float(getattr(settings, "GRAPH_CONNECT_TIMEOUT", cls.connect)),
                   read=float(getattr(settings, "GRAPH_READ_TIMEOUT", cls.read)))


class DeadlineTransport(AiohttpTransport):
    """gremlinpython's aiohttp transport with a bounded handshake (its reads and writes are already
    bounded by `read_timeout`/`write_timeout`)."""

    def __init__(self, deadlines: Deadlines, **kwargs: Any) -> None:
        super().__init__(read_timeout=deadlines.read, write_timeout=deadlines.read,
                         max_content_length=MAX_MESSAGE_BYTES, **kwargs)
        self._connect_timeout = deadlines.connect

    def connect(self, url: str, headers: dict[str, str] | None = None) -> None:
        """A failed handshake closes the transport's session and loop at once. The driver makes a new
        transport for its next try, and the failed one, left open, was closed only when the garbage
        collector got to it: on whatever thread that was, where an event loop already running makes
        its close fail ("Exception ignored ... Cannot run the event loop while another loop is running")."""
        async def handshake() -> None:
            self._client_session = aiohttp.ClientSession(
                loop=self._loop, timeout=aiohttp.ClientTimeout(total=None, connect=self._connect_timeout))
            try:
                async with asyncio.timeout(self._connect_timeout):
                    self._websocket = await self._client_session.ws_connect(
                        url, **self._aiohttp_kwargs, headers=headers)
            except TimeoutError as exc:
                raise TimeoutError(f"no WebSocket handshake within {self._connect_timeout:g} s") from exc
            except aiohttp.ClientResponseError as err:
                if err.status == 403:  # the full message may include the signed headers
                    raise Exception("Failed to connect to server: HTTP Error code 403 - Forbidden.") from None
                raise

        try:
            self._loop.run_until_complete(handshake())
        except BaseException:
            self.close()
            raise


def driver_options(deadlines: Deadlines | None = None) -> dict[str, Any]:
    """Keyword arguments for DriverRemoteConnection that put deadlines on every call."""
    deadlines = deadlines or Deadlines.from_settings()
    return {"transport_factory": lambda: DeadlineTransport(deadlines)}


class WireRemoteConnection(RemoteConnection):
    """A Gremlin Server connection for one caller at a time (GuardedRemoteConnection serialises them):
    each traversal is written, and its answer frames (206 batches, then 200 or 204) read, on the
    calling thread. SASL PLAIN when the server asks for it (407), as gremlinpython does; an error
    status raises gremlinpython's GremlinServerError; a frame not arriving within the read deadline
    raises TimeoutError."""

    def __init__(self, url: str, serializer: Any, *, username: str = "", password: str = "",
                 deadlines: Deadlines | None = None) -> None:
        super().__init__(url, "g")
        self._serializer = serializer
        self._sasl = base64.b64encode(f"\0{username}\0{password}".encode()).decode() if username else None
        self._deadlines = deadlines or Deadlines()
        self._websocket: ClientConnection | None = None

    def _open(self) -> ClientConnection:
        if self._websocket is None:
            try:
                self._websocket = ws_connect(  # kept open across calls, closed by close(): not a `with` block
                    self.url, open_timeout=self._deadlines.connect, close_timeout=1, compression=None,
                    max_size=MAX_MESSAGE_BYTES, ping_interval=None, legacy=True)  # wss://: the default TLS context
            except TimeoutError as exc:
                raise TimeoutError(f"no WebSocket handshake within {self._deadlines.connect:g} s") from exc
        return self._websocket

    def submit(self, bytecode: Bytecode) -> RemoteTraversal:
        args: dict[str, Any] = {"gremlin": bytecode, "aliases": {"g": "g"}}
        args.update(DriverRemoteConnection._extract_request_options(bytecode) or {})
        request_id = str(args.pop("requestId", None) or uuid.uuid4())
        return RemoteTraversal(iter(self._request(request_id, RequestMessage("traversal", "bytecode", args))))

    def _request(self, request_id: str, message: RequestMessage) -> list[Any]:
        websocket = self._open()
        websocket.send(self._serializer.serialize_message(request_id, message))
        results: list[Any] = []
        while True:
            answer = self._serializer.deserialize_message(websocket.recv(timeout=self._deadlines.read))
            if answer["requestId"] != request_id:
                continue  # the late answer of a request given up on (its deadline passed)
            status = answer["status"]
            if status["code"] == 407:
                if self._sasl is None:
                    raise GremlinServerError({**status, "message": "the graph store requires authentication: "
                                              "put its user and password in GRAPH_URL (ws://user:password@host…)"})
                auth = RequestMessage("traversal", "authentication", {"sasl": self._sasl})
                websocket.send(self._serializer.serialize_message(request_id, auth))
                continue
            if status["code"] not in (200, 204, 206):
                raise GremlinServerError(status)
            data = answer["result"]["data"]
            if status["code"] != 204 and data is not None:
                results.extend(data)
            if status["code"] != 206:
                return results

    def is_closed(self) -> bool:
        return self._websocket is None

    def close(self) -> None:
        websocket, self._websocket = self._websocket, None
        if websocket is not None:
            websocket.close()


class GuardedRemoteConnection(RemoteConnection):
    """Wraps a driver connection made by `factory`; a broken connection is dropped and made anew on
    the next call, so a restarted server is picked up without restarting the process. Traversals are
    sent one at a time: the driver's transport runs an event loop per connection that two threads
    must not drive at once (a threaded web worker, or a file ingest's writer and follow-up)."""

    def __init__(self, url: str, factory: Callable[[], RemoteConnection],
                 deadlines: Deadlines | None = None) -> None:
        super().__init__(url, "g")
        self._factory = factory
        self._remote: RemoteConnection | None = None
        self._lock = threading.RLock()
        self._deadlines = deadlines or Deadlines()
        self._failing: str | None = None  # why the last call could not reach the store, until one can

    def _connection(self) -> RemoteConnection:
        if self._remote is None:
            try:
                self._remote = self._factory()
            except TRANSPORT_ERRORS as exc:
                raise GraphUnavailable(f"cannot reach the graph store at {self.url}: {exc}") from exc
        return self._remote

    def submit(self, bytecode: Bytecode) -> RemoteTraversal:
        """One traversal at a time. While the store is failing, one caller at a time tries it again and
        the others are answered at once instead of queueing behind it; otherwise a caller queued behind
        a traversal (itself bounded) waits no longer than that one may take."""
        failing = self._failing
        if failing is not None:
            if not self._lock.acquire(blocking=False):
                raise GraphUnavailable(f"cannot reach the graph store at {self.url}: {failing} "
                                       "(another request is trying it again)")
        else:
            wait = self._deadlines.connect + self._deadlines.read
            if not self._lock.acquire(timeout=wait):
                raise GraphUnavailable(f"the graph store at {self.url} is busy: no turn within {wait:g} s")
        try:
            with timed_call("remote"):
                result = self._submit(bytecode)
        except GraphUnavailable as exc:
            self._failing = str(exc.__cause__ or exc)[:200]
            raise
        except GraphQueryError:
            self._failing = None  # the store answered
            raise
        finally:
            self._lock.release()
        self._failing = None
        return result

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
