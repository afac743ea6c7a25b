"""A small journey graph written the way the project writes (batched mergeV/mergeE), and helpers
that read results the same way whichever backend answered (T keys or string keys, Path or list)."""
from __future__ import annotations

from enum import Enum
from typing import Any

from gremlin_python.process.graph_traversal import GraphTraversalSource, __
from gremlin_python.process.traversal import Direction, Merge, T

T0 = 1_700_000_000_000
MINUTE = 60_000

CUSTOMERS = [("c1", T0, T0 + 2 * MINUTE), ("c2", T0 + 30_000, T0 + 90_000)]
IDENTIFIERS = [("c1", "phone", "+61400000001"), ("c1", "email", "ann@example.com"),
               ("c2", "email", "ann@example.com")]
EVENTS = [  # event id, customer, type, channel, ts, intent
    ("e1", "c1", "login", "web", T0, ""),
    ("e2", "c1", "call", "voice", T0 + MINUTE, "home_loan"),
    ("e3", "c1", "chat", "chat", T0 + 2 * MINUTE, "complaint"),
    ("e4", "c2", "login", "app", T0 + 30_000, ""),
    ("e5", "c2", "apply", "web", T0 + 90_000, "home_loan"),
]
NEXT = [("e1", "e2", MINUTE), ("e2", "e3", MINUTE), ("e4", "e5", MINUTE)]


def upsert_vertices(g: GraphTraversalSource, rows: list[dict[str, Any]]) -> list[str]:
    """rows: {"k": {T.id, T.label}, "c": properties on create, "m": properties on match}."""
    return (g.inject(rows).unfold().as_("r").merge_v(__.select("k"))
            .option(Merge.on_create, __.select("r").select("c"))
            .option(Merge.on_match, __.select("r").select("m")).id_().to_list())


def merge_edges(g: GraphTraversalSource, edges: list[dict[Any, Any]]) -> None:
    rows = [{"k": {k: v for k, v in e.items() if not isinstance(k, str)},
             "c": {k: v for k, v in e.items() if isinstance(k, str)}} for e in edges]
    (g.inject(rows).unfold().as_("r").merge_e(__.select("k"))
     .option(Merge.on_create, __.select("r").select("c")).iterate())


def seed(g: GraphTraversalSource) -> None:
    upsert_vertices(g, [{"k": {T.id: f"customer:{c}", T.label: "customer"},
                         "c": {"customer_id": c, "first_seen": first, "last_seen": last},
                         "m": {"last_seen": last}} for c, first, last in CUSTOMERS])
    upsert_vertices(g, [{"k": {T.id: f"identifier:{kind}:{value}", T.label: "identifier"},
                         "c": {"kind": kind, "value": value}, "m": {}} for _, kind, value in IDENTIFIERS])
    upsert_vertices(g, [{"k": {T.id: f"event:{e}", T.label: "event"},
                         "c": {"type": kind, "channel": channel, "ts": ts, "intent": intent}, "m": {}}
                        for e, _, kind, channel, ts, intent in EVENTS])
    upsert_vertices(g, [{"k": {T.id: "milestone:applied", T.label: "milestone"}, "c": {"name": "Applied"},
                         "m": {}}])
    merge_edges(g, [{T.label: "has_identifier", Direction.OUT: f"customer:{c}",
                     Direction.IN: f"identifier:{kind}:{value}", "rule": "deterministic"}
                    for c, kind, value in IDENTIFIERS])
    merge_edges(g, [{T.label: "performed", Direction.OUT: f"customer:{c}", Direction.IN: f"event:{e}", "ts": ts}
                    for e, c, _, _, ts, _ in EVENTS])
    merge_edges(g, [{T.label: "next", Direction.OUT: f"event:{a}", Direction.IN: f"event:{b}", "gap_ms": gap}
                    for a, b, gap in NEXT])
    merge_edges(g, [{T.label: "reached", Direction.OUT: "customer:c2", Direction.IN: "milestone:applied",
                     "ts": T0 + 90_000, "event_id": "e5"},
                    {T.label: "merged_into", Direction.OUT: "customer:c2", Direction.IN: "customer:c1",
                     "rule": "shared_email", "confidence": 0.75, "ts": T0 + 100_000, "by": "rules"}])


def plain(value: Any) -> Any:
    """elementMap/valueMap keys as strings: TinkerPop answers T.id / Direction.IN, the engine 'id' / 'IN'."""
    if isinstance(value, dict):
        return {_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _key(key: Any) -> Any:
    if isinstance(key, Enum):
        return {"id_": "id"}.get(key.name, key.name)
    return key


def path_objects(path: Any) -> list[Any]:
    """A Path from TinkerPop, a list from the engine: the objects in order either way."""
    return list(path.objects) if hasattr(path, "objects") else list(path)
