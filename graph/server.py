"""A Gremlin Server for the embedded store: TinkerPop's WebSocket protocol, GraphBinary 1.0 and GraphSON 3.0/2.0.

Only one process may open the embedded store for writing, so web workers, the Lambda shim and
notebooks reach it through this server with an unchanged TinkerPop driver. The serializer is chosen
per request by the mime type the request carries. Bytecode runs through the same translation as the
in-process adapter (graph.translate: allow-listed steps, tokens and operators, every value a bound
parameter), so both paths answer identically; `eval` scripts are parsed into bytecode first
(graph.gremlin_lang) and take the same path. No client traversal may touch files.

Protection: SASL PLAIN authentication (GRAPHSERVER_USERNAME/GRAPHSERVER_PASSWORD), required for any
address but loopback; TLS when given a certificate; every traversal runs under an evaluation timeout
(the server's, or a shorter one the request asks for) enforced by the engine, so a runaway holds the
store for at most that long; a result-size limit; sessions (`g.tx()`) are refused, not ignored.
Engine calls block, so they run in a thread pool; several requests of one connection run side by
side. A request's frames (one per batch of results) are encoded in the worker thread and handed to
the event loop up to 64 KB at a time: a short answer costs one hand-off each way.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import ipaddress
import logging
import os
import re
import signal
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlparse

import graphersal
from gremlin_python.process.traversal import Bytecode, Column, Direction, T, Traverser
from gremlin_python.structure.graph import Path
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

from graph.embedded import MEMORY, READ_POLICY, EmbeddedStore, to_gremlin
from graph.engine_errors import with_tinkerpop_text
from graph.errors import GraphQueryError, GraphUnavailable, UnsupportedTraversal
from graph.graphbinary import graph_binary_reader, graph_binary_writer, read_string, read_value, write_value
from graph.graphson import GRAPHSON_ALIASES, GRAPHSON_V2, GRAPHSON_V3, GraphSONCodec
from graph.gremlin_lang import parse
from graph.strategies import without_selects_of
from graph.translate import is_read_only, translate_cached

log = logging.getLogger(__name__)

MIME_TYPE = "application/vnd.graphbinary-v1.0"
VERSION = 0x81
DEFAULT_BATCH_SIZE = 64
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
NULL_REQUEST_ID = uuid.UUID(int=0)
OPTIONS_STRATEGY = "OptionsStrategy"
PATHS = {"/gremlin", "/"}
DEFAULT_EVALUATION_TIMEOUT_MS = 30_000
DEFAULT_MAX_RESULTS = 1_000_000
DEFAULT_MAX_IN_FLIGHT = 8
MAX_PENDING_UNAUTHENTICATED = 8
USERNAME_VARIABLE = "GRAPHSERVER_USERNAME"
PASSWORD_VARIABLE = "GRAPHSERVER_PASSWORD"  # noqa: S105 - the variable's name, not a password
SCRIPT_LANGUAGES = {"gremlin-lang", "gremlin-groovy"}
SESSION_REFUSED = ("sessions (processor 'session', what g.tx() sends) are not supported by this server: every "
                   "traversal is its own unit and commits on its own; send the writes that belong together as one "
                   "traversal, or use the embedded store in process for atomic batches")
ProcessRequest = Callable[[ServerConnection, HttpRequest], HttpResponse | None]


class Status:
    """TinkerPop response status codes (ResponseStatusCode)."""

    SUCCESS = 200
    NO_CONTENT = 204
    PARTIAL_CONTENT = 206
    UNAUTHORIZED = 401
    AUTHENTICATE = 407
    MALFORMED_REQUEST = 498
    INVALID_REQUEST_ARGUMENTS = 499
    SERVER_ERROR = 500
    SERVER_ERROR_EVALUATION = 597
    SERVER_TIMEOUT = 598
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

    mime_type = MIME_TYPE

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


class GraphSONRequestCodec:
    """graph.graphson's codec in the shape GremlinServer uses (Request in, response frame out)."""

    def __init__(self, version: int) -> None:
        self.graphson = GraphSONCodec(version)
        self.mime_type = self.graphson.mime_type

    def decode_request(self, data: str | bytes) -> Request:
        body = data[1 + data[0]:] if isinstance(data, bytes) else data
        try:
            message = self.graphson.decode(body)
        except UnsupportedTraversal as exc:
            raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, str(exc), _request_id_of(body)) from exc
        except Exception as exc:  # noqa: BLE001 - any decoding failure is a malformed request
            raise RequestError(Status.MALFORMED_REQUEST, f"cannot decode request: {exc!r}",
                               _request_id_of(body)) from exc
        return Request(request_id=message["requestId"], op=message["op"], processor=message["processor"],
                       args=message["args"])

    def encode_response(self, request_id: uuid.UUID, status: int, message: str | None = None,
                        data: Any = None, attributes: dict[str, Any] | None = None) -> str:
        return self.graphson.encode(request_id, status, message, data, attributes or {})


def _request_id_of(body: str | bytes) -> uuid.UUID:
    """The request id of a request that failed to decode, when it can still be read (for the answer)."""
    import json

    try:
        request_id = json.loads(body).get("requestId")
        return uuid.UUID(str(request_id.get("@value") if isinstance(request_id, dict) else request_id))
    except Exception:  # noqa: BLE001 - no id: the answer carries the null id
        return NULL_REQUEST_ID


class _EngineElementIO(_GraphBinaryTypeIO):
    @classmethod
    def dictify(cls, obj: Any, writer: GraphBinaryWriter, to_extend: bytearray, as_value: bool = False,
                nullable: bool = True) -> bytearray:
        writer.to_dict(to_gremlin(obj), to_extend)
        return to_extend


@dataclass(frozen=True)
class Credentials:
    """The one user graphserver accepts (SASL PLAIN), from the environment."""

    username: str
    password: str = field(repr=False)

    def check(self, sasl: Any) -> bool:
        """`sasl` is base64 of `authzid NUL authcid NUL password` (RFC 4616), as TinkerPop drivers send it."""
        try:
            decoded = base64.b64decode(str(sasl), validate=True).split(b"\0")
        except (binascii.Error, ValueError):
            return False
        if len(decoded) != 3:
            return False
        user_ok = hmac.compare_digest(decoded[1], self.username.encode("utf-8"))
        password_ok = hmac.compare_digest(decoded[2], self.password.encode("utf-8"))
        return user_ok and password_ok


def credentials_from_environment(environ: Mapping[str, str] | None = None) -> Credentials | None:
    """GRAPHSERVER_USERNAME and GRAPHSERVER_PASSWORD, both or neither."""
    environ = os.environ if environ is None else environ
    username, password = environ.get(USERNAME_VARIABLE, ""), environ.get(PASSWORD_VARIABLE, "")
    if bool(username) != bool(password):
        raise ValueError(f"set both {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}, or neither")
    return Credentials(username, password) if username else None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_context(certfile: str, keyfile: str | None = None) -> ssl.SSLContext:
    """A server TLS context (TLS 1.2 or newer) for a certificate chain and its key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context


@dataclass
class _ConnectionState:
    """What a server remembers about one client connection."""

    authenticated: bool
    slots: asyncio.Semaphore | None = None
    pending: dict[uuid.UUID, tuple[Any, Request]] = field(default_factory=dict)


Frame = bytes | str


class GremlinServer:
    """Serves one EmbeddedStore as the traversal source `g` on ws(s)://host:port/gremlin."""

    def __init__(self, store: EmbeddedStore, *, host: str = "127.0.0.1", port: int = 8182,
                 batch_size: int = DEFAULT_BATCH_SIZE, workers: int = 4,
                 process_request: ProcessRequest | None = None, credentials: Credentials | None = None,
                 ssl_context: ssl.SSLContext | None = None,
                 evaluation_timeout_ms: int = DEFAULT_EVALUATION_TIMEOUT_MS,
                 max_results: int = DEFAULT_MAX_RESULTS, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT) -> None:
        if credentials is None and not is_loopback(host):
            raise ValueError(f"refusing to serve {host} without authentication: set {USERNAME_VARIABLE} and "
                             f"{PASSWORD_VARIABLE} (SASL PLAIN), or bind 127.0.0.1")
        if evaluation_timeout_ms < 1 or max_results < 1 or batch_size < 1:
            raise ValueError("evaluation timeout, result limit and batch size must be positive")
        self.store = store
        self.process_request = process_request  # optional handshake check (e.g. signed headers), after the path
        self.host = host
        self.port = port
        self.batch_size = batch_size
        self.credentials = credentials
        self.ssl_context = ssl_context
        self.evaluation_timeout_ms = evaluation_timeout_ms
        self.max_results = max_results
        self.max_in_flight = max_in_flight
        self.codec = GraphBinaryCodec()
        self.codecs: dict[str, Any] = {MIME_TYPE: self.codec}
        for mime, version in GRAPHSON_ALIASES.items():
            self.codecs[mime] = GraphSONRequestCodec(version)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gremlin")
        self._server: Server | None = None

    @property
    def url(self) -> str:
        scheme = "wss" if self.ssl_context is not None else "ws"
        return f"{scheme}://{self.host}:{self.port}/gremlin"

    async def start(self) -> None:
        """Bind and start accepting; with port 0 the chosen port is read back into `self.port`."""
        # No keep-alive pings (as Gremlin Server by default): gremlinpython reads its socket only while
        # awaiting a response, so an idle pooled connection never answers a ping, and the server
        # would drop it; the client's next request on it would then hang.
        self._server = await serve(self._connection, self.host, self.port, max_size=MAX_MESSAGE_BYTES,
                                   compression=None, ping_interval=None, process_request=self._check_handshake,
                                   ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1] if self._server.sockets else self.port
        log.info("Gremlin server listening on %s%s", self.url,
                 "" if self.credentials is None else " (SASL PLAIN authentication)")

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
        """Requests on one connection run side by side (drivers pipeline them), up to max_in_flight."""
        state = _ConnectionState(authenticated=self.credentials is None,
                                 slots=asyncio.Semaphore(self.max_in_flight))
        running: set[asyncio.Task[None]] = set()
        try:
            async for message in websocket:
                assert state.slots is not None
                await state.slots.acquire()  # stop reading while the connection has max_in_flight running
                task = asyncio.create_task(self._answer(websocket, state, message))
                running.add(task)
                task.add_done_callback(running.discard)
        except ConnectionClosed:
            log.debug("client %s went away", websocket.remote_address)
        if running:
            await asyncio.gather(*running, return_exceptions=True)

    async def _answer(self, websocket: ServerConnection, state: _ConnectionState, message: Frame) -> None:
        """Frames are encoded a batch at a time in the worker threads and sent as each is ready."""
        loop = asyncio.get_running_loop()
        frames = self.respond_frames(message, state)
        try:
            while True:
                batch, done = await loop.run_in_executor(self._executor, _next_frames, frames)
                for frame in batch:
                    await websocket.send(frame)
                if done:
                    break
        except ConnectionClosed:
            frames.close()
        finally:
            assert state.slots is not None
            state.slots.release()

    def respond(self, data: Frame) -> list[Frame]:
        """All response frames of one request on an authenticated connection (tests, tools)."""
        return list(self.respond_frames(data, _ConnectionState(authenticated=True)))

    def respond_frames(self, data: Frame, state: _ConnectionState) -> Generator[Frame, None, None]:
        """The response frames of one request message: 206 batches, then 200/204 or an error."""
        started = time.perf_counter()
        codec: Any = self.codec
        request_id = NULL_REQUEST_ID
        try:
            codec = self._codec_for(data)
            request = codec.decode_request(data)
            request_id = request.request_id
            if request.op == "authentication":
                yield from self._authenticate(codec, request, state)
                return
            if not state.authenticated:
                state.pending[request_id] = (codec, request)
                _drop_oldest_pending(state.pending)
                yield codec.encode_response(request_id, Status.AUTHENTICATE, "authenticate", None, {})
                return
            yield from self._results(codec, request, started)
        except RequestError as exc:
            yield self._error(codec, exc.request_id if exc.request_id != NULL_REQUEST_ID else request_id,
                              exc.status, str(exc))

    def _results(self, codec: Any, request: Request, started: float) -> Generator[Frame, None, None]:
        try:
            batch_size = _batch_size(request, self.batch_size)
            results = self._dispatch(request)
        except RequestError:
            raise
        except UnsupportedTraversal as exc:
            raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, str(exc), request.request_id) from exc
        except GraphQueryError as exc:
            raise RequestError(_query_status(exc), with_tinkerpop_text(str(exc)), request.request_id) from exc
        except GraphUnavailable as exc:
            raise RequestError(Status.SERVER_ERROR, str(exc), request.request_id) from exc
        except Exception as exc:  # noqa: BLE001 - the client gets the reason instead of a dropped socket
            log.exception("request %s failed", request.request_id)
            raise RequestError(Status.SERVER_ERROR, f"{type(exc).__name__}: {exc}", request.request_id) from exc
        if len(results) > self.max_results:
            raise RequestError(Status.SERVER_ERROR_EVALUATION,
                               f"the result holds {len(results)} values, more than this server's limit of "
                               f"{self.max_results}; narrow the traversal with limit() or range()",
                               request.request_id)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s: %d results in %.1f ms", request.op, request.request_id, _outline(request),
                      len(results), (time.perf_counter() - started) * 1000)
        yield from self._frames(codec, request, results, batch_size)

    def _codec_for(self, data: Frame) -> Any:
        """The request's serializer, from its mime header; a text frame is GraphSON 3.0 (Gremlin Server's default)."""
        if isinstance(data, str):
            return self.codecs[GRAPHSON_V3]
        mime = data[1:1 + data[0]].decode("utf-8", "replace") if data else ""
        codec = self.codecs.get(mime)
        if codec is None:
            raise RequestError(Status.MALFORMED_REQUEST, f"serializer {mime!r} is not supported; use {MIME_TYPE}, "
                               f"{GRAPHSON_V3} or {GRAPHSON_V2}")
        return codec

    def _authenticate(self, codec: Any, request: Request, state: _ConnectionState) -> Generator[Frame, None, None]:
        if self.credentials is None:
            raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, "this server does not use authentication",
                               request.request_id)
        if not self.credentials.check(request.args.get("sasl")):
            state.authenticated = False
            state.pending.pop(request.request_id, None)
            raise RequestError(Status.UNAUTHORIZED, "Username and/or password are incorrect", request.request_id)
        state.authenticated = True
        pending = state.pending.pop(request.request_id, None)
        if pending is None:  # authenticated ahead of any request: nothing to answer but the handshake
            yield codec.encode_response(request.request_id, Status.NO_CONTENT, None, None, {})
            return
        for waiting_id in list(state.pending):  # the driver authenticates once; the rest ran into the 407 too
            yield from self._rerun(*state.pending.pop(waiting_id))
        yield from self._rerun(*pending)

    def _rerun(self, codec: Any, request: Request) -> Generator[Frame, None, None]:
        try:
            yield from self._results(codec, request, time.perf_counter())
        except RequestError as exc:
            yield self._error(codec, request.request_id, exc.status, str(exc))

    def _dispatch(self, request: Request) -> list[Any]:
        if request.processor == "session":
            if request.op == "close":
                return []
            raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, SESSION_REFUSED, request.request_id)
        if request.op == "bytecode":
            return self._traversal(request, _bytecode_argument(request))
        if request.op == "eval":
            return self._traversal(request, _script_argument(request))
        if request.op == "close":
            return []
        raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, f"op {request.op[:40]!r} is not supported; send "
                           "'bytecode' or 'eval'", request.request_id)

    def _traversal(self, request: Request, bytecode: Bytecode) -> list[Any]:
        aliases = request.args.get("aliases") or {"g": "g"}
        if not isinstance(aliases, dict) or set(aliases.values()) - {"g"}:
            raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, f"unknown traversal source in aliases "
                               f"{str(aliases)[:80]}; this server serves only 'g'", request.request_id)
        bytecode = _without_options(bytecode)
        timeout = _evaluation_timeout(request, self.evaluation_timeout_ms)
        for _ in range(MAX_UNDECLARED_RETRIES):
            try:
                return _typed_results(bytecode, self._run(bytecode, timeout))
            except GraphQueryError as exc:
                undeclared = UNDECLARED_LABEL.search(str(exc))
                if undeclared is not None:
                    bytecode = without_selects_of(bytecode, undeclared.group(1))
                elif NON_TEXT_KEYS in str(exc) and is_read_only(bytecode):  # a write must never run twice
                    return self._maps_as_entries(bytecode, timeout, exc)
                else:
                    raise
        return _typed_results(bytecode, self._run(bytecode, timeout))

    def _maps_as_entries(self, bytecode: Bytecode, timeout: int, failure: GraphQueryError) -> list[Any]:
        """The engine cannot hand Python a map whose keys are not text (group().by("age")): the same
        traversal is run again answering each map as its entries, and the maps are rebuilt here."""
        entries = Bytecode()
        entries.source_instructions = bytecode.source_instructions
        entries.step_instructions = [*bytecode.step_instructions, ["map", _ENTRIES]]
        try:
            rows = self._run(entries, timeout)
        except GraphQueryError:
            raise failure from None
        return [{_hashable_key(e["k"]): e["v"] for e in row} if isinstance(row, list) else row for row in rows]

    def _run(self, bytecode: Bytecode, timeout: int) -> list[Any]:
        translated = translate_cached(bytecode)
        script = translated.script
        script.text = f'g.with("evaluationTimeout", {timeout})' + script.text[1:]
        if translated.read_only:
            return self.store.run(script, policy=READ_POLICY, exclusive=False)
        return self.store.run(script)

    def _frames(self, codec: Any, request: Request, results: list[Any], size: int) -> Generator[Frame, None, None]:
        if not results:
            yield codec.encode_response(request.request_id, Status.NO_CONTENT, None, None, {})
            return
        for start in range(0, len(results), size):
            last = start + size >= len(results)
            chunk = results[start:start + size]
            # traversals answer with traversers (value and bulk), scripts with plain values, as Gremlin Server does
            batch = [Traverser(value, 1) for value in chunk] if request.op == "bytecode" else chunk
            try:
                frame = codec.encode_response(
                    request.request_id, Status.SUCCESS if last else Status.PARTIAL_CONTENT, None, batch,
                    {"host": f"{self.host}:{self.port}"} if last else {})
            except Exception as exc:  # noqa: BLE001 - an unencodable value must still produce an answer
                yield self._error(codec, request.request_id, Status.SERVER_ERROR_SERIALIZATION,
                                  f"cannot serialise a result as {codec.mime_type}: {exc!r}")
                return
            yield frame

    def _error(self, codec: Any, request_id: uuid.UUID, status: int, message: str) -> Frame:
        log.debug("request %s answered %d: %s", request_id, status, message)
        return codec.encode_response(request_id, status, message, None, {"exceptions": [message]})


# the engine refuses select() of a label declared nowhere; TinkerPop selects nothing (graph.strategies)
UNDECLARED_LABEL = re.compile(r"Step label '([^']*)' is never declared in this query")
MAX_UNDECLARED_RETRIES = 4
NON_TEXT_KEYS = "unsupported script result value of type 'graphersal::script::tokens::map::ScriptMap'"
MODULATORS = {"by", "from", "to", "with"}
SET_STEPS = {"difference", "disjunct", "intersect", "merge"}
TOKEN_KEYS = {"id": T.id, "label": T.label, "IN": Direction.IN, "OUT": Direction.OUT}
EDGE_ENDS = {"IN", "OUT"}


def _typed_results(bytecode: Bytecode, results: list[Any]) -> list[Any]:
    """The engine answers some steps with plain values where TinkerPop defines a type: path() with
    lists (Path), set operations with lists (sets), elementMap() and valueMap(true) with the string
    keys "id" and "label" (the tokens T.id and T.label, Direction.IN/OUT for an edge's ends)."""
    steps = bytecode.step_instructions
    main = [step for step in steps if step[0] not in MODULATORS]  # path().by("name") is still a path
    last = main[-1] if main else [""]
    if last[0] == "path":
        return [Path([set() for _ in r], r) if isinstance(r, list) else r for r in results]
    if last[0] in SET_STEPS:
        return [_as_set(r) for r in results]
    tokens = any(step[0] == "with" and "~tinkerpop.valueMap.tokens" in step for step in steps)
    if last[0] == "elementMap" or (last[0] == "valueMap" and (True in last[1:2] or tokens)):
        return [_token_keys(r) for r in results]
    return results


def _entries_traversal() -> Bytecode:
    """__.unfold().project("k", "v").by(select(keys)).by(select(values)).fold(): a map as its entries."""
    keys, values, entries = Bytecode(), Bytecode(), Bytecode()
    keys.add_step("select", Column.keys)
    values.add_step("select", Column.values)
    for step in (["unfold"], ["project", "k", "v"], ["by", keys], ["by", values], ["fold"]):
        entries.add_step(*step)
    return entries


_ENTRIES = _entries_traversal()


def _hashable_key(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def _as_set(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    try:
        return set(value)
    except TypeError:  # unhashable members (maps, lists) stay a list
        return value


def _token_keys(row: Any) -> Any:
    if type(row) is not dict:
        return row
    typed = {}
    for key, value in row.items():
        token = TOKEN_KEYS.get(key) if type(key) is str else None
        if token is None:
            typed[key] = value
        else:  # an edge's ends are maps of their own (id and label)
            typed[token] = _token_keys(value) if key in EDGE_ENDS else value
    return typed


SEND_BYTES = 64 * 1024


def _next_frames(frames: Iterator[Frame]) -> tuple[list[Frame], bool]:
    """The next frames to send (made in a worker thread), and whether they are the last: frames are
    taken until about SEND_BYTES are ready, so a short answer costs one hand-off between the event
    loop and the worker threads, and a long one is still sent as it is encoded."""
    batch: list[Frame] = []
    size = 0
    for frame in frames:
        batch.append(frame)
        size += len(frame)
        if size >= SEND_BYTES:
            return batch, False
    return batch, True


def _drop_oldest_pending(pending: dict[uuid.UUID, Any]) -> None:
    """An unauthenticated client cannot make the server hold more than a few requests."""
    while len(pending) > MAX_PENDING_UNAUTHENTICATED:
        pending.pop(next(iter(pending)))


def _query_status(exc: GraphQueryError) -> int:
    return Status.SERVER_TIMEOUT if "exceeded evaluationTimeout" in str(exc) else Status.SERVER_ERROR_EVALUATION


def _bytecode_argument(request: Request) -> Bytecode:
    bytecode = request.args.get("gremlin")
    if not isinstance(bytecode, Bytecode):
        raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, "op 'bytecode' needs a 'gremlin' argument holding "
                           "bytecode", request.request_id)
    return bytecode


def _script_argument(request: Request) -> Bytecode:
    script, bindings = request.args.get("gremlin"), request.args.get("bindings") or {}
    language = request.args.get("language", "gremlin-lang")
    if language not in SCRIPT_LANGUAGES:
        raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, f"script language {str(language)[:40]!r} is not "
                           "supported; scripts are one Gremlin traversal (gremlin-lang)", request.request_id)
    if not isinstance(script, str) or not isinstance(bindings, dict):
        raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, "op 'eval' needs a 'gremlin' string (and 'bindings' "
                           "as a map)", request.request_id)
    try:
        return parse(script, {str(k): v for k, v in bindings.items()})
    except UnsupportedTraversal as exc:
        raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, f"cannot run the script: {exc}",
                           request.request_id) from exc


def _evaluation_timeout(request: Request, server_limit: int) -> int:
    """A request may ask for less time than the server's limit, never more."""
    requested = request.args.get("evaluationTimeout", request.args.get("scriptEvaluationTimeout"))
    if requested is None:
        return server_limit
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 0:
        raise RequestError(Status.INVALID_REQUEST_ARGUMENTS, f"evaluationTimeout must be a non-negative number "
                           f"of milliseconds, got {str(requested)[:40]}", request.request_id)
    return min(requested, server_limit) if requested else server_limit


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
