"""A write plan in the embedded engine's native bulk form.

Per element, the engine's traversal upserts (`inject(rows).unfold().mergeV()`) spend most of their
time turning each row map into a traverser. The engine imports GraphSON files and runs GQL `UNWIND`
updates several times faster, so on the embedded store a batch becomes one atomic script:

- new vertices, each carrying the new edges that touch it, as a GraphSON file (`g.import_graphson`);
- property updates of existing vertices as GQL `UNWIND … SET` over one list parameter;
- edge drops and the rare new edge between two existing vertices as ordinary Gremlin.

The import skips an edge whose other end is missing without failing, so the script first checks
that every existing vertex an imported edge names is there, and aborts (rolling the whole batch
back) when one is not; the update counts and the import's own count of what it took are checked
the same way.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from graph.connection import get_g, many_ids
from graph.embedded import EmbeddedStore
from graph.translate import Script, append_statements
from graph.write_plan import Edge, WritePlan, chunks, edge_merges

# A batch file lives for one import: in memory (tmpfs) where the system has one, not on disk.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
EDGE_END_MISSING = "a vertex an edge of this batch needs is missing"
UPDATED_MISSING = "a vertex this batch updates is missing"
IMPORT_INCOMPLETE = "the graph engine did not import every element of this batch"


@dataclass
class _Line:
    """One new vertex of the GraphSON file: its encoded id, label and properties, and its edges."""

    head: str
    edges: dict[tuple[str, str], list[str]] = field(default_factory=dict)


@dataclass
class _Import:
    """The GraphSON lines of a batch's new vertices and the existing vertices their edges name."""

    lines: dict[str, _Line] = field(default_factory=dict)
    existing_ends: set[str] = field(default_factory=set)
    leftover_edges: list[Edge] = field(default_factory=list)
    edges: int = 0  # placed on the lines


def apply_natively(store: EmbeddedStore, plan: WritePlan) -> None:
    """Run the plan as one atomic script on the embedded store."""
    NativeWrite(store, plan).run()


class NativeWrite:
    """A plan turned into the engine's script and GraphSON file when made (Python's part of the
    work, so a bulk load can make the next while the engine runs this one); `run` runs the script
    and removes the file, `close` removes the file of a write that will not run."""

    def __init__(self, store: EmbeddedStore, plan: WritePlan) -> None:
        self.store = store
        staged = _stage(plan)
        self.path = _write_file(_graphson(staged)) if staged.lines else None
        self.script = Script(text="", discard=True)
        try:
            self.script.text = _script(self.script, plan, staged, self.path)
        except BaseException:
            self.close()
            raise

    def run(self) -> None:
        try:
            self.store.run(self.script, atomic=True, policy=None)  # the import reads this batch's own file
        finally:
            self.close()

    def close(self) -> None:
        if self.path is not None:
            os.unlink(self.path)
            self.path = None


def _stage(plan: WritePlan) -> _Import:
    staged = _Import()
    vertices = plan.created + [v for v in plan.identifiers if v[0] not in plan.existing_identifiers]
    vertices += [v for v in plan.events if v[0] not in plan.orphan_events]
    for vid, label, props in vertices:
        encoded = ",".join([_property_prefix(k) + (_quote(v) if type(v) is str else _encode(v)) + "}]"
                            for k, v in props.items()])
        staged.lines[vid] = _Line(head=f'"id":{_quote(vid)},"label":{_quote(label)},"properties":{{{encoded}}}')
    for edge in plan.edges:
        _place_edge(staged, edge)
    return staged


def _place_edge(staged: _Import, edge: Edge) -> None:
    """An edge travels with its out-vertex when that one is new, else with its in-vertex. Never the
    other way round: the import takes an out-vertex's `outE` as the whole list of its edges and skips
    `inE` entries that name an out-vertex of the same file which has an `outE`."""
    label, out_v, in_v, props = edge
    line = staged.lines.get(out_v)
    if line is not None:
        side, opening, other = "outE", '{"inV":', in_v
    else:
        line = staged.lines.get(in_v)
        if line is None:
            staged.leftover_edges.append(edge)
            return
        side, opening, other = "inE", '{"outV":', out_v
    staged.edges += 1
    encoded = ",".join([_quote(k) + ":" + (_quote(v) if type(v) is str else _encode(v)) for k, v in props.items()])
    entries = line.edges.get((side, label))
    if entries is None:
        entries = line.edges[(side, label)] = []
    entries.append(f'{opening}{_quote(other)},"properties":{{{encoded}}}}}')
    if other not in staged.lines:
        staged.existing_ends.add(other)


@lru_cache(maxsize=256)
def _property_prefix(key: str) -> str:
    """`"key":[{"value":` — a vertex property's opening, the same for every vertex."""
    return f'{_quote(key)}:[{{"value":'


def _encode(value: Any) -> str:
    """JSON text of a property value; strings and integers (nearly all values) take the short way."""
    kind = type(value)
    if kind is str:
        return _quote(value)
    if kind is int:
        return str(value)
    return json.dumps(value, allow_nan=False)


def _line_text(line: _Line) -> str:
    if not line.edges:
        return "{" + line.head + "}"
    sides: dict[str, list[str]] = {}
    for (side, label), edges in line.edges.items():
        sides.setdefault(side, []).append(f"{_quote(label)}:[{','.join(edges)}]")
    edges_text = "".join(f',"{side}":{{{",".join(parts)}}}' for side, parts in sides.items())
    return f"{{{line.head}{edges_text}}}"


def _graphson(staged: _Import) -> str:
    """GraphSON in its line form (one vertex per line), which the engine reads about twice as fast as
    one `{"vertices": [...]}` document."""
    return "\n".join(map(_line_text, staged.lines.values())) + "\n"


def _write_file(text: str) -> str:
    handle, path = tempfile.mkstemp(prefix="journeyhub-batch-", suffix=".graphson.json", dir=SCRATCH)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    return path


def _script(script: Script, plan: WritePlan, staged: _Import, path: str | None) -> str:
    parts = []
    if staged.existing_ends:
        ends = sorted(staged.existing_ends)
        parts.append(f"if g.V(parse_json({script.bind(json.dumps(ends))})).count().next() != {len(ends)} "
                     f"{{ throw \"{EDGE_END_MISSING}\"; }}\n")
    parts.append(append_statements(script, [_drop(chunk) for chunk in chunks(plan.dropped)]))
    parts += [_update(script, keys, rows) for keys, rows in _updates_by_keys(plan).items()]
    if path is not None:
        # the import reports what it took; anything less than the whole file rolls the batch back
        expected = f": imported {len(staged.lines)} vertices and {staged.edges} edges"
        parts.append(f"let imported = g.import_graphson({script.bind(path)});\n"
                     f"if !imported.contains({script.bind(expected)}) || imported.contains(\"skipped\") "
                     f"{{ throw \"{IMPORT_INCOMPLETE}: \" + imported; }}\n")
    parts.append(append_statements(script, [t.bytecode for t in edge_merges(staged.leftover_edges)]))
    return "".join(parts)


def _updates_by_keys(plan: WritePlan) -> dict[tuple[str, ...], list[list[Any]]]:
    """Updates grouped by the properties they set; an orphan event vertex gets the event's properties."""
    orphans = [(vid, props) for vid, _, props in plan.events if vid in plan.orphan_events]
    groups: dict[tuple[str, ...], list[list[Any]]] = defaultdict(list)
    for vid, props in plan.updates + orphans:
        groups[tuple(props)].append([vid, *props.values()])
    return groups


def _update(script: Script, keys: tuple[str, ...], rows: list[list[Any]]) -> str:
    """One GQL update for all vertices setting the same properties; property names are code, never
    data, and are checked before they become query text."""
    for key in keys:
        if not PROPERTY_NAME.match(key):
            raise ValueError(f"property name {key!r} cannot be updated in bulk")
    assignments = ", ".join(f"v.{key} = r[{i + 1}]" for i, key in enumerate(keys))
    query = f"UNWIND $rows AS r MATCH (v) WHERE element_id(v) = r[0] SET {assignments} RETURN count(*) AS n"
    rows_param = script.bind(json.dumps(rows))
    return (f"if g.gql({script.bind(query)}, #{{rows: parse_json({rows_param})}}).next()[\"n\"] != {len(rows)} "
            f"{{ throw \"{UPDATED_MISSING}\"; }}\n")


def _drop(edge_ids: Any) -> Any:
    return get_g().E(*many_ids(list(edge_ids))).drop().bytecode
