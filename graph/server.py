"""A Gremlin Server for the embedded store: the standard TinkerPop WebSocket protocol with GraphBinary v1.

Only one process may open the embedded store for writing, so web workers, the Lambda shim and
notebooks reach it through this server with an unchanged gremlinpython `DriverRemoteConnection`.
Requests are decoded and responses encoded with gremlinpython's own GraphBinary reader and writer
(the inverse of its client serializer); bytecode runs through the same translation as the
in-process adapter, so both paths answer identically. Engine calls block, so they run in a thread
pool and the store's lock serialises them.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlparse

import graphersal
from gremlin_python.process.traversal import Bytecode, Traverser
from gremlin_python.structure.io.graphbinaryV1 import (
    GraphBinaryWriter,
    MapIO,
    StringIO,
    UuidIO,
    _GraphBinaryTypeIO,
    int32_pack,
)
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response as HttpResponse

from graph.embedded import MEMORY, EmbeddedStore, to_gremlin
from graph.errors import GraphQueryError, GraphUnavailable, UnsupportedTraversal
from graph.graphbinary import graph_binary_reader, graph_binary_writer, read_string, read_value, write_value
from graph.translate import translate

log = logging.getLogger(__name__)

MIME_TYPE = "application/vnd.graphbinary-v1.0"
VERSION = 0x81
DEFAULT_BATCH_SIZE = 64
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
NULL_REQUEST_ID = uuid.UUID(int=0)
OPTIONS_STRATEGY = "OptionsStrategy"
PATHS = {"/gremlin", "/"}
ProcessRequest = Callable[[ServerConnection, HttpRequest], HttpResponse | None]


class Status:
    """TinkerPop response status codes (ResponseStatusCode)."""

    SUCCESS = 200
    NO_CONTENT = 204
    PARTIAL_CONTENT = 206
    MALFORMED_REQUEST = 498
    INVALID_REQUEST_ARGUMENTS = 499
    SERVER_ERROR = 500
    SERVER_ERROR_EVALUATION = 597
    SERVER_ERROR_SERIALIZATION = 599


class RequestError(Exception):
    """A request this server answers with an error status instead of running it."""

    def __init__(self, status: int, message: str, request_id: uuid.UUID = NULL_REQUEST_ID) -> None:
        super().__init__(message)
        self.status = status
        self.request_id = request_id


@dataclass(frozen=True)
class Request:
    request_id: uuid.UUID
    op: str
    processor: str
    args: dict[str, Any] = field(default_factory=dict)


class GraphBinaryCodec:
    """Request decoding and response encoding: the server side of gremlinpython's GraphBinarySerializersV1."""

    def __init__(self) -> None:
        self.reader = graph_binary_reader()
        self.writer = graph_binary_writer()
        # engine vertices and edges are converted while being written, not in a separate pass
        self.writer.serializers.update({graphersal.Vertex: _EngineElementIO, graphersal.Edge: _EngineElementIO})

    def decode_request(self, data: str | bytes) -> Request:
        """Layout: mime length, mime type, version, request id (two longs), op, processor, args map."""
        if isinstance(data, str):
            raise RequestError(Status.MALFORMED_REQUEST, f"text frames are not supported; send {MIME_TYPE} binary")
        buf = bytes(data)
        mime_end = 1 + (buf[0] if buf else 0)
        mime = buf[1:mime_end].decode("utf-8", "replace")
        if mime != MIME_TYPE:
            raise RequestError(Status.MALFORMED_REQUEST, f"serializer {mime!r} is not supported; use {MIME_TYPE}")
        if buf[mime_end:mime_end + 1] != bytes([VERSION]) or len(buf) < mime_end + 17:
            raise RequestError(Status.MALFORMED_REQUEST, "request header is truncated or not GraphBinary v1")
        request_id = uuid.UUID(bytes=buf[mime_end + 1:mime_end + 17])
        try:
            op, pos = read_string(buf, mime_end + 17)
            processor, pos = read_string(buf, pos)
            count, pos = int.from_bytes(buf[pos:pos + 4], "big", signed=True), pos + 4
            args = {}
            for _ in range(count):
                key, pos = read_value(buf, pos, self.reader)
                args[key], pos = read_value(buf, pos, self.reader)
        except UnsupportedTraversal as exc:
            raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, str(exc), request_id) from exc
        except Exception as exc:  # noqa: BLE001 - any decoding failure is a malformed request
            raise RequestError(Status.MALFORMED_REQUEST, f"cannot decode request: {exc!r}", request_id) from exc
        return Request(request_id=request_id, op=op, processor=processor, args=args)

    def encode_response(self, request_id: uuid.UUID, status: int, message: str | None = None,
                        data: Any = None, attributes: dict[str, Any] | None = None) -> bytes:
        """Layout: version, nullable request id, status code, nullable message, status and meta maps, data."""
        ba = bytearray([VERSION])
        UuidIO.dictify(request_id, self.writer, ba, True, True)
        ba.extend(int32_pack(status))
        if message is None:
            ba.append(0x01)
        else:
            StringIO.dictify(message, self.writer, ba, True, True)
        MapIO.dictify(attributes or {}, self.writer, ba, True, False)
        MapIO.dictify({}, self.writer, ba, True, False)
        write_value(data, ba, self.writer)
        return bytes(ba)


class _EngineElementIO(_GraphBinaryTypeIO):
    @classmethod
    def dictify(cls, obj: Any, writer: GraphBinaryWriter, to_extend: bytearray, as_value: bool = False,
                nullable: bool = True) -> bytearray:
        writer.to_dict(to_gremlin(obj), to_extend)
        return to_extend


class GremlinServer:
    """Serves one EmbeddedStore as the traversal source `g` on ws://host:port/gremlin."""

    def __init__(self, store: EmbeddedStore, *, host: str = "127.0.0.1", port: int = 8182,
                 batch_size: int = DEFAULT_BATCH_SIZE, workers: int = 4,
                 process_request: ProcessRequest | None = None) -> None:
        self.store = store
        self.process_request = process_request  # optional handshake check (e.g. signed headers), after the path
        self.host = host
        self.port = port
        self.batch_size = batch_size
        self.codec = GraphBinaryCodec()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gremlin")
        self._server: Server | None = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/gremlin"

    async def start(self) -> None:
        """Bind and start accepting; with port 0 the chosen port is read back into `self.port`."""
        # No keep-alive pings (as Gremlin Server by default): gremlinpython reads its socket only while
        # awaiting a response, so an idle pooled connection never answers a ping, and the server
        # would drop it; the client's next request on it would then hang.
        self._server = await serve(self._connection, self.host, self.port, max_size=MAX_MESSAGE_BYTES,
                                   compression=None, ping_interval=None, process_request=self._check_handshake)
        self.port = self._server.sockets[0].getsockname()[1] if self._server.sockets else self.port
        log.info("Gremlin server listening on %s", self.url)

    def _check_handshake(self, connection: ServerConnection, request: HttpRequest) -> HttpResponse | None:
        refused = _check_path(connection, request)
        if refused is None and self.process_request is not None:
            refused = self.process_request(connection, request)
        return refused

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._executor.shutdown(wait=True)

    async def _connection(self, websocket: ServerConnection) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for message in websocket:
                frames = await loop.run_in_executor(self._executor, self.respond, message)
                for frame in frames:
                    await websocket.send(frame)
        except ConnectionClosed:
            log.debug("client %s went away", websocket.remote_address)

    def respond(self, data: str | bytes) -> list[bytes]:
        """Answer one request message with its response frames (206 batches, then 200/204 or an error)."""
        started = time.perf_counter()
        request_id = NULL_REQUEST_ID
        try:
            request = self.codec.decode_request(data)
            request_id = request.request_id
            batch_size = _batch_size(request, self.batch_size)
            results = self._dispatch(request)
        except RequestError as exc:
            return [self._error(exc.request_id, exc.status, str(exc))]
        except UnsupportedTraversal as exc:
            return [self._error(request_id, Status.INVALID_REQUEST_ARGUMENTS, str(exc))]
        except GraphQueryError as exc:
            return [self._error(request_id, Status.SERVER_ERROR_EVALUATION, str(exc))]
        except GraphUnavailable as exc:
            return [self._error(request_id, Status.SERVER_ERROR, str(exc))]
        except Exception as exc:  # noqa: BLE001 - the client gets the reason instead of a dropped socket
            log.exception("request %s failed", request_id)
            return [self._error(request_id, Status.SERVER_ERROR, f"{type(exc).__name__}: {exc}")]
        frames = self._frames(request, results, batch_size)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s: %d results in %.1f ms", request.op, request_id, _outline(request), len(results),
                      (time.perf_counter() - started) * 1000)
        return frames

    def _dispatch(self, request: Request) -> list[Any]:
        if request.op == "bytecode":
            return self._traversal(request)
        if request.op == "close":
            return []
        if request.op == "eval":
            raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, "script evaluation (op 'eval') is not supported by "
                               "this server; send traversals as bytecode (gremlinpython's default)", request.request_id)
        if request.op == "authentication":
            raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, "this server does not use authentication",
                               request.request_id)
        raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, f"op {request.op!r} is not supported; send 'bytecode'",
                           request.request_id)

    def _traversal(self, request: Request) -> list[Any]:
        bytecode = request.args.get("gremlin")
        if not isinstance(bytecode, Bytecode):
            raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, "op 'bytecode' needs a 'gremlin' argument holding "
                               "bytecode", request.request_id)
        aliases = request.args.get("aliases") or {"g": "g"}
        if set(aliases.values()) - {"g"}:
            raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, f"unknown traversal source in aliases {aliases}; "
                               "this server serves only 'g'", request.request_id)
        return self.store.run(translate(_without_options(bytecode)))

    def _frames(self, request: Request, results: list[Any], size: int) -> list[bytes]:
        if not results:
            return [self.codec.encode_response(request.request_id, Status.NO_CONTENT)]
        frames = []
        try:
            for start in range(0, len(results), size):
                last = start + size >= len(results)
                batch = [Traverser(value, 1) for value in results[start:start + size]]
                frames.append(self.codec.encode_response(
                    request.request_id, Status.SUCCESS if last else Status.PARTIAL_CONTENT, data=batch,
                    attributes={"host": f"{self.host}:{self.port}"} if last else None))
        except Exception as exc:  # noqa: BLE001 - an unencodable value must still produce an answer
            return [self._error(request.request_id, Status.SERVER_ERROR_SERIALIZATION,
                                f"cannot serialise a result as GraphBinary: {exc!r}")]
        return frames

    def _error(self, request_id: uuid.UUID, status: int, message: str) -> bytes:
        log.debug("request %s answered %d: %s", request_id, status, message)
        return self.codec.encode_response(request_id, status, message, attributes={"exceptions": [message]})


def _without_options(bytecode: Bytecode) -> Bytecode:
    """`g.with_('batchSize', n)` travels as an OptionsStrategy whose values the client already copied into the
    request arguments; a Gremlin Server applies it as request options, so it never reaches the engine."""
    kept = [inst for inst in bytecode.source_instructions
            if not (inst[0] == "withStrategies" and all(
                getattr(s, "strategy_name", None) == OPTIONS_STRATEGY for s in inst[1:]))]
    if len(kept) == len(bytecode.source_instructions):
        return bytecode
    stripped = Bytecode()
    stripped.source_instructions = kept
    stripped.step_instructions = bytecode.step_instructions
    return stripped


def _outline(request: Request) -> str:
    """The step names of a traversal (no argument values: they may be personal data)."""
    bytecode = request.args.get("gremlin")
    if not isinstance(bytecode, Bytecode):
        return ""
    return "g" + "".join(f".{step[0]}()" for step in bytecode.source_instructions + bytecode.step_instructions)


def _batch_size(request: Request, default: int) -> int:
    requested = request.args.get("batchSize")
    if requested is None:
        return default
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
        raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, f"batchSize must be a positive integer, got {requested!r}",
                           request.request_id)
    return requested


def _check_path(connection: ServerConnection, request: HttpRequest) -> HttpResponse | None:
    path = request.path.split("?", 1)[0]
    if path not in PATHS:
        return connection.respond(HTTPStatus.NOT_FOUND, f"no Gremlin endpoint at {path}; use /gremlin\n")
    return None


class BackgroundServer:
    """A GremlinServer on its own event loop in a daemon thread (tests, benchmarks, notebooks)."""

    def __init__(self, store: EmbeddedStore, *, host: str = "127.0.0.1", port: int = 0,
                 **options: Any) -> None:
        self.server = GremlinServer(store, host=host, port=port, **options)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._stopped: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="gremlin-server", daemon=True)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise GraphUnavailable(f"Gremlin server did not start within {timeout} s")
        if self._failure is not None:
            raise GraphUnavailable(f"Gremlin server failed to start: {self._failure}") from self._failure
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._stopped is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        try:
            await self.server.start()
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stopped.wait()
        await self.server.stop()


def embedded_store_for(url: str) -> EmbeddedStore:
    """The store a graphserver may serve: only an embedded one (serving a ws:// URL would proxy to itself)."""
    parsed = urlparse(url)
    if parsed.scheme != "embedded":
        raise ValueError(f"graphserver serves an embedded store, but GRAPH_URL is {url!r}; set "
                         "GRAPH_URL=embedded:///path/to/dir (or embedded://memory) for the server process")
    return EmbeddedStore(MEMORY if parsed.netloc == MEMORY else parsed.netloc + parsed.path)


async def serve_until_signalled(server: GremlinServer, on_ready: Callable[[GremlinServer], None]) -> None:
    """Serve until SIGINT or SIGTERM, then stop accepting and let running requests finish."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    await server.start()
    on_ready(server)
    await stopped.wait()
    log.info("Gremlin server stopping")
    await server.stop()
