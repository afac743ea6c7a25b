"""The connection factory: one GraphTraversalSource per process, chosen by GRAPH_URL."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from gremlin_python.driver.remote_connection import RemoteConnection
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import GraphTraversalSource

from graph.embedded import MEMORY, EmbeddedRemoteConnection, EmbeddedStore
from graph.remote import Deadlines, GuardedRemoteConnection, WireRemoteConnection
from graph.translate import JsonRows


@dataclass
class Connection:
    url: str
    remote: RemoteConnection
    g: GraphTraversalSource

    @property
    def embedded_store(self) -> EmbeddedStore | None:
        return self.remote.store if isinstance(self.remote, EmbeddedRemoteConnection) else None

    def close(self) -> None:
        self.remote.close()


def connect(url: str) -> Connection:
    """Open a connection for a GRAPH_URL: embedded:///dir, embedded://memory, ws(s)://…, neptune+wss://…"""
    parsed = urlparse(url)
    if parsed.scheme == "embedded":
        location = MEMORY if parsed.netloc == MEMORY else (parsed.netloc + parsed.path)
        remote: RemoteConnection = EmbeddedRemoteConnection(EmbeddedStore(location))
    elif parsed.scheme in {"ws", "wss"}:
        remote = _driver_connection(url)
    elif parsed.scheme in {"neptune+wss", "neptune+ws"}:  # neptune+ws: local signature-checking servers
        from graph.neptune import neptune_connection

        remote = neptune_connection(url)
    else:
        raise ValueError(f"GRAPH_URL scheme {parsed.scheme!r} is not supported (embedded, ws, wss, neptune+wss)")
    return Connection(url=url, remote=remote, g=traversal().with_remote(remote))


def _driver_connection(url: str) -> RemoteConnection:
    from graph.graphbinary import graph_binary_serializer  # ints beyond 32 bits (epoch ms) as Long

    parsed = urlparse(url)  # ws://user:password@host/… authenticates with SASL PLAIN (graphserver, Gremlin Server)
    username, password = unquote(parsed.username or ""), unquote(parsed.password or "")
    address = parsed._replace(netloc=parsed.netloc.rpartition("@")[2]).geturl()
    deadlines = Deadlines.from_settings()
    return GuardedRemoteConnection(
        address, lambda: WireRemoteConnection(address, graph_binary_serializer(), username=username,
                                              password=password, deadlines=deadlines), deadlines)


_lock = threading.Lock()
_current: Connection | None = None


def get_connection() -> Connection:
    global _current
    from django.conf import settings

    with _lock:
        if _current is None or _current.url != settings.GRAPH_URL:
            _current = connect(settings.GRAPH_URL)
        return _current


def get_g() -> GraphTraversalSource:
    return get_connection().g


def bulk_rows(rows: list[dict[Any, Any]]) -> Any:
    """The argument for `inject(...)` in bulk writes: plain rows for remote stores, pre-serialised
    JSON for the embedded one (see graph.translate.JsonRows)."""
    if isinstance(get_connection().remote, EmbeddedRemoteConnection):
        return JsonRows.of(rows)
    return rows


def many_ids(ids: list[str]) -> tuple[Any, ...]:
    """The arguments for `V(...)`/`E(...)` with many ids: the ids themselves for remote stores, one
    pre-serialised list for the embedded one (gremlinpython converts every argument otherwise). An
    empty list is refused: `V()` with no ids means every vertex."""
    if not ids:
        raise ValueError("many_ids() needs at least one id")
    if isinstance(get_connection().remote, EmbeddedRemoteConnection):
        return (JsonRows(json.dumps(ids)),)
    return tuple(ids)


def run_writes(traversals: list[Any]) -> None:
    """Run write traversals in order; on the embedded store as one atomic unit. Remote stores run
    them one by one, which is safe because every write is an idempotent upsert."""
    remote = get_connection().remote
    if isinstance(remote, EmbeddedRemoteConnection):
        remote.execute_atomic([t.bytecode for t in traversals])
        return
    for traversal_ in traversals:
        traversal_.iterate()


def reset_connection() -> None:
    """Close and forget the process's connection (tests, store switches, after errors)."""
    global _current
    with _lock:
        if _current is not None:
            try:
                _current.close()
            except Exception:  # noqa: BLE001 - closing a broken connection must not mask the reason
                pass
        _current = None


def ensure_reachable() -> None:
    """Open the store now and read one vertex, so that a command reports a locked or unreachable
    store before it starts any work (the embedded store otherwise opens on first use)."""
    get_g().V().limit(1).count().next()


def health() -> dict[str, Any]:
    try:
        count = get_g().V().limit(1).count().next()
        return {"status": "ok", "url": _redacted(get_connection().url), "reachable": True, "probe": count}
    except Exception as exc:  # noqa: BLE001 - health reports any failure
        reset_connection()
        return {"status": "down", "detail": str(exc)[:300]}


def _redacted(url: str) -> str:
    parsed = urlparse(url)
    return url.replace(parsed.password, "***") if parsed.password else url
