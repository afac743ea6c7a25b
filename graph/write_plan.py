"""One batch's planned graph changes, and how they reach the store.

The event write path reads what it needs, plans every change in Python and hands the plan over here.
Any Gremlin store gets it as batched upserts (mergeV/mergeE, idempotent, so an interrupted remote
batch can simply run again); the embedded store gets it in the engine's native bulk form
(`graph.bulk_load`), several times cheaper per element, as one all-or-nothing unit.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import Direction, Merge, T

from graph.connection import bulk_rows, get_connection, get_g, many_ids, run_writes

CHUNK = 500


Vertex = tuple[str, str, dict[str, Any]]          # id, label, properties
Edge = tuple[str, str, str, dict[str, Any]]      # label, out-vertex id, in-vertex id, properties


@dataclass
class WritePlan:
    """`created` vertices are known to be new; `identifiers` are created only when missing (those in
    `existing_identifiers` exist); `events` are new unless listed in `orphan_events` (a vertex an
    interrupted remote batch left behind without its `performed` edge); `updates` set properties of
    existing vertices; `edges` are known to be missing, `performed` edges last; `dropped` are edge
    ids to remove."""

    created: list[Vertex] = field(default_factory=list)
    identifiers: list[Vertex] = field(default_factory=list)
    existing_identifiers: set[str] = field(default_factory=set)
    events: list[Vertex] = field(default_factory=list)
    orphan_events: set[str] = field(default_factory=set)
    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    dropped: list[Any] = field(default_factory=list)


def apply_plan(plan: WritePlan) -> None:
    """Write the plan: natively on the embedded store, as Gremlin upserts anywhere else."""
    prepared_write(plan).run()


class PreparedWrite(Protocol):
    """A plan made ready to write: `run` writes it (once); `close` lets go of a write that will not run."""

    def run(self) -> None: ...

    def close(self) -> None: ...


def prepared_write(plan: WritePlan) -> PreparedWrite:
    """The plan made ready to write. On the embedded store the native script is built here, Python's
    share of the work, so a bulk load can build one batch's while the engine writes the one before."""
    store = get_connection().embedded_store
    if store is not None and not _empty(plan):
        from graph.bulk_load import NativeWrite

        return NativeWrite(store, plan)
    return _GremlinWrite(gremlin_writes(plan) if not _empty(plan) else [])


@dataclass
class _GremlinWrite:
    traversals: list[Any]

    def run(self) -> None:
        run_writes(self.traversals)

    def close(self) -> None:
        return None


def _empty(plan: WritePlan) -> bool:
    return not (plan.created or plan.identifiers or plan.events or plan.updates or plan.edges or plan.dropped)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def id_chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    """Ids in pieces for `V(...)` reads: all at once on the embedded store (one call, however many),
    CHUNK at a time on remote stores (request size limits)."""
    size = max(len(ids), 1) if get_connection().embedded_store is not None else CHUNK
    return (list(piece) for piece in chunks(ids, size))


def gremlin_writes(plan: WritePlan) -> list[Any]:
    """The plan as Gremlin traversals, in an order that keeps an interrupted run re-runnable:
    vertices before the edges that need them, and `performed` edges (which mark an event as
    written) last."""
    g = get_g()
    writes = [g.inject(bulk_rows(list(c))).unfold().merge_v() for c in chunks([_vertex_row(v) for v in plan.created])]
    rows = [{"k": {T.id: vid, T.label: _label_of(vid)}, "m": props} for vid, props in plan.updates]
    writes += [g.inject(bulk_rows(list(c))).unfold().as_("r").merge_v(__.select("k"))
               .option(Merge.on_match, __.select("r").select("m")) for c in chunks(rows)]
    rows = [{"k": {T.id: vid, T.label: label}, "c": props} for vid, label, props in plan.identifiers]
    writes += [g.inject(bulk_rows(list(c))).unfold().as_("r").merge_v(__.select("k"))
               .option(Merge.on_create, __.select("r").select("c")) for c in chunks(rows)]
    # a whole-map mergeV matches an orphan event vertex (same properties) instead of duplicating it
    writes += [g.inject(bulk_rows(list(c))).unfold().merge_v() for c in chunks([_vertex_row(v) for v in plan.events])]
    writes += [g.E(*many_ids(list(c))).drop() for c in chunks(plan.dropped)]
    return writes + edge_merges(plan.edges)


def edge_merges(edges: list[Edge]) -> list[Any]:
    """Edges known to be missing: a plain mergeE of the whole map suffices."""
    rows = [{T.label: label, Direction.OUT: out_v, Direction.IN: in_v, **props} for label, out_v, in_v, props in edges]
    return [get_g().inject(bulk_rows(list(c))).unfold().merge_e() for c in chunks(rows)]


def _vertex_row(vertex: Vertex) -> dict[Any, Any]:
    vid, label, props = vertex
    return {T.id: vid, T.label: label, **props}


def _label_of(vertex_id: str) -> str:
    """Vertex ids carry their label as a prefix (`customer:42`)."""
    return vertex_id.split(":", 1)[0]
