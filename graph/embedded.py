"""The embedded store (graphersal) behind gremlinpython's RemoteConnection interface.

Code above `graph/` writes ordinary gremlinpython traversals; this adapter turns their bytecode into
the engine's script dialect (graph.translate), runs it in process and hands back gremlinpython
structure objects, so the same traversal runs unchanged against a Gremlin Server or Neptune.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import graphersal
from gremlin_python.driver.remote_connection import RemoteConnection, RemoteTraversal
from gremlin_python.process.traversal import Bytecode, Traverser
from gremlin_python.structure.graph import Edge, Vertex

from graph.errors import GraphLocked, GraphQueryError, GraphUnavailable
from graph.metrics import timed_call
from graph.translate import Script, translate, translate_many

MEMORY = "memory"
# Traversals (ours, or any client's through graphserver) never touch files: only the native bulk
# path, which writes its own temporary file, runs with the engine's default (allow everything).
TRAVERSAL_POLICY = graphersal.AccessPolicy.allow_all().deny("*", "file")
# Reads graphserver runs side by side: data and schema only, plus the evaluation timeout it sets itself.
READ_POLICY = graphersal.AccessPolicy(("read", "data"), ("read", "schema"), ("update", "option"))


class EmbeddedStore:
    """Opens the engine lazily (after any fork) and serialises access to it within the process."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._store: graphersal.Store | None = None
        self._graph: graphersal.Graph | None = None
        self._lock = threading.RLock()
        self._pid: int | None = None
        # customer id → (first_seen, last_seen, last_event) as this process last wrote them: an
        # embedded store has one writing process, so what it wrote is what the store holds
        self.spans: dict[str, tuple[int, int, str]] = {}

    @property
    def graph(self) -> graphersal.Graph:
        opened = self._graph
        if opened is not None and self._pid == os.getpid():
            return opened  # without the lock: a read must not wait while a writer holds it
        with self._lock:
            if self._graph is None or self._pid != os.getpid():
                self._open()
            assert self._graph is not None
            return self._graph

    def _open(self) -> None:
        self.spans = {}
        if self.location == MEMORY:
            self._graph = graphersal.Graph()
        else:
            self._store = _open_store(Path(self.location))
            self._graph = self._store.graph
        self._graph.set_limits(unlimited=True)
        self._pid = os.getpid()

    def run(self, script: Script, *, atomic: bool = False,
            policy: graphersal.AccessPolicy | None = TRAVERSAL_POLICY, exclusive: bool = True) -> list[Any]:
        """Run one script; engine failures become GraphQueryError with the engine's explanation.
        `exclusive=False` (reads under a read-only policy) skips the process's lock: the engine keeps
        every traversal consistent by itself, so readers run side by side and never wait for a writer
        held by this lock."""
        graph = self.graph
        try:
            with timed_call("embedded"):
                if exclusive:
                    with self._lock:
                        result = graph.execute(script.text, script.params, atomic=atomic, policy=policy)
                else:
                    result = graph.execute(script.text, script.params, atomic=atomic, policy=policy)
        except graphersal.GraphersalError as exc:
            if getattr(exc, "cause", None) == "closed":
                raise GraphUnavailable(f"embedded store is closed: {exc}") from exc
            raise GraphQueryError(f"{exc}\n  script: {script.text}") from exc
        if script.discard:
            return []
        return result if isinstance(result, list) else [result]

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
            self._store = None
            self._graph = None
            self.spans = {}


def _open_store(path: Path) -> graphersal.Store:
    try:
        if path.exists() and any(path.iterdir()):
            return graphersal.Store.open(str(path))
        path.mkdir(parents=True, exist_ok=True)
        return graphersal.Store.create(str(path))
    except graphersal.GraphersalError as exc:
        if "in use" in str(exc):
            raise GraphLocked(
                f"the embedded graph store at {path} is in use by {lock_holder(path)}. Only one process may open "
                "it: stop that process, or run `python manage.py graphserver` in its place and point this one "
                "at it with GRAPH_URL=ws://127.0.0.1:8182/gremlin") from exc
        raise GraphUnavailable(
            f"cannot open the embedded graph store at {path}: {exc}. Only one process may open it for "
            "writing; run `python manage.py graphserver` and point other processes at it with GRAPH_URL=ws://…"
        ) from exc


def lock_holder(path: Path) -> str:
    """Who holds the store's LOCK file, as "process 123 (python manage.py demo)": read from the
    kernel's lock table (/proc/locks, Linux); "another process" where that is not available."""
    try:
        lock = os.stat(path / "LOCK")
        key = f"{os.major(lock.st_dev):02x}:{os.minor(lock.st_dev):02x}:{lock.st_ino}"
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 6 and fields[1] != "->" and fields[5] == key:
                pid = int(fields[4])
                command = " ".join(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                                   .replace("\0", " ").split())
                return f"process {pid} ({command[:160]})" if command else f"process {pid}"
    except (OSError, ValueError):
        pass
    return "another process"


SCALARS = (str, int, float, bool, type(None))
# Steps whose results hold no vertices or edges, so they need no conversion.
PLAIN_RESULT_STEPS = {"elementMap", "valueMap", "values", "id", "count", "label", "key", "value"}


def to_gremlin(value: Any) -> Any:
    """Engine values to gremlinpython's structure types (vertices and edges detached, no properties).
    Plain values are passed through untouched: large reads are mostly strings and numbers."""
    if type(value) in SCALARS:
        return value
    if isinstance(value, graphersal.Vertex):
        return Vertex(value.id, value.label or "vertex")
    if isinstance(value, graphersal.Edge):
        return Edge(value.id, Vertex(value.out_v.id, value.out_v.label or "vertex"), value.label or "edge",
                    Vertex(value.in_v.id, value.in_v.label or "vertex"))
    if isinstance(value, dict):
        if all(type(v) in SCALARS for v in value.values()):
            return value
        return {k: to_gremlin(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_gremlin(v) for v in value]
    return value


class EmbeddedRemoteConnection(RemoteConnection):
    """gremlinpython RemoteConnection that executes bytecode on an EmbeddedStore."""

    def __init__(self, store: EmbeddedStore) -> None:
        super().__init__(f"embedded://{store.location}", "g")
        self.store = store

    def submit(self, bytecode: Bytecode) -> RemoteTraversal:
        results = self.execute(bytecode)
        return RemoteTraversal(iter([Traverser(r, 1) for r in results]))

    def execute(self, bytecode: Bytecode) -> list[Any]:
        results = self.store.run(translate(bytecode))
        steps = bytecode.step_instructions
        if steps and steps[-1][0] in PLAIN_RESULT_STEPS:
            return results
        return [to_gremlin(r) for r in results]

    def execute_atomic(self, bytecodes: list[Bytecode]) -> None:
        """Run write traversals as one unit: all of them land, or none (one commit, one log write)."""
        if bytecodes:
            self.store.run(translate_many(bytecodes), atomic=True)

    def is_closed(self) -> bool:
        return False

    def close(self) -> None:
        self.store.close()
