"""Neptune bulk-loader CSV out of whichever store GRAPH_URL names.

A migration to Amazon Neptune goes through its bulk loader, which reads one CSV for vertices
(`~id,~label,name:Type,…`) and one for edges (`~id,~from,~to,~label,name:Type,…`). The graph is read in
pages with portable traversals only: all element ids first (cheap, sorted here so the output is
deterministic and every page is a plain id lookup), then `elementMap()` for one page of ids at a time.
Ordering the whole graph server-side for each `range()` page would cost a full sort per page.

Column types are only known after every element has been seen, so rows are spooled to a temporary
JSON-lines file and the CSV (header first) is written from it: memory stays at one page.
"""
from __future__ import annotations

import csv
import json
import math
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from gremlin_python.process.graph_traversal import GraphTraversalSource

from graph.connection import get_g

VERTEX_COLUMNS = ("~id", "~label")
EDGE_COLUMNS = ("~id", "~from", "~to", "~label")
PAGE_SIZE = 1000


@dataclass(frozen=True)
class ExportSummary:
    vertices: int
    edges: int
    vertices_path: Path
    edges_path: Path


def export_bulk_csv(outdir: Path, *, g: GraphTraversalSource | None = None,
                    page_size: int = PAGE_SIZE) -> ExportSummary:
    """Write vertices.csv and edges.csv for Neptune's bulk loader into `outdir`."""
    g = g or get_g()
    outdir.mkdir(parents=True, exist_ok=True)
    vertices_path, edges_path = outdir / "vertices.csv", outdir / "edges.csv"
    vertices = write_bulk_csv(vertex_rows(g, page_size=page_size), vertices_path, VERTEX_COLUMNS)
    edges = write_bulk_csv(edge_rows(g, page_size=page_size), edges_path, EDGE_COLUMNS)
    return ExportSummary(vertices=vertices, edges=edges, vertices_path=vertices_path, edges_path=edges_path)


# ---------------------------------------------------------------- reading the graph


def vertex_rows(g: GraphTraversalSource, *, page_size: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
    """Vertices in id order as {"~id", "~label", property: value}."""
    for page in _pages(sorted(str(v) for v in g.V().id_().to_list()), page_size):
        rows = [_plain(m) for m in g.V(page).element_map().to_list()]
        for row in sorted(rows, key=lambda r: str(r["id"])):
            yield {"~id": str(row.pop("id")), "~label": str(row.pop("label")), **row}


def edge_rows(g: GraphTraversalSource, *, page_size: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
    """Edges in id order as {"~id", "~from", "~to", "~label", property: value}."""
    for page in _pages(sorted(str(e) for e in g.E().id_().to_list()), page_size):
        rows = [_plain(m) for m in g.E(page).element_map().to_list()]
        for row in sorted(rows, key=lambda r: str(r["id"])):
            out_v, in_v = _plain(row.pop("OUT")), _plain(row.pop("IN"))
            yield {"~id": str(row.pop("id")), "~from": str(out_v["id"]), "~to": str(in_v["id"]),
                   "~label": str(row.pop("label")), **row}


def _pages(ids: list[str], size: int) -> Iterator[list[str]]:
    if size < 1:
        raise ValueError(f"page_size must be at least 1, not {size}")
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _plain(element_map: dict[Any, Any]) -> dict[str, Any]:
    """elementMap keys are tokens (T.id, Direction.OUT) from a Gremlin server and plain strings from
    the embedded store; both become strings ("id", "label", "OUT", "IN")."""
    return {(k.name if isinstance(k, Enum) else str(k)): v for k, v in element_map.items()}


# ---------------------------------------------------------------- writing the CSV

_TYPE_ORDER = {"Bool": 0, "Long": 1, "Double": 2}


def value_type(value: Any) -> str:
    """The bulk loader type for one value; lists and sets become that type's `[]` form."""
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Long"
    if isinstance(value, float):
        return "Double"
    if isinstance(value, list | set | tuple):
        kinds = {value_type(v) for v in value}
        return (_widen(kinds) if kinds else "String") + "[]"
    return "String"


def _widen(kinds: set[str]) -> str:
    """One type per column: Long and Double share Double; any other mix falls back to String."""
    if len(kinds) == 1:
        return next(iter(kinds))
    return "Double" if kinds == {"Long", "Double"} else "String"


def column_type(kinds: set[str]) -> str:
    lists = {k for k in kinds if k.endswith("[]")}
    if lists:
        return _widen({k.removesuffix("[]") for k in kinds}) + "[]"
    return _widen(kinds)


def format_value(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind.endswith("[]"):
        items = value if isinstance(value, list | set | tuple) else [value]
        if isinstance(items, set):
            items = sorted(items, key=str)
        return ";".join(format_value(v, kind[:-2]).replace(";", "\\;") for v in items)
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "Double" and isinstance(value, int | float):
        return _format_double(float(value))
    if isinstance(value, float):
        return _format_double(value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _format_double(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def write_bulk_csv(rows: Iterable[dict[str, Any]], path: Path, system_columns: tuple[str, ...]) -> int:
    """Spool rows, learn each property's type, then write `path` with a typed header; returns rows written."""
    kinds: dict[str, set[str]] = {}
    count = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8", dir=path.parent) as spool:
        for row in rows:
            for key, value in row.items():
                if key in system_columns or value is None:
                    continue
                _check_property_name(key, row)
                kinds.setdefault(key, set()).add(value_type(value))
            spool.write(json.dumps(_spoolable(row), default=str) + "\n")
            count += 1
        types = {key: column_type(found) for key, found in kinds.items()}
        names = sorted(types)
        spool.seek(0)
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow([*system_columns, *(f"{name}:{types[name]}" for name in names)])
            for line in spool:
                row = json.loads(line)
                writer.writerow([*(row[c] for c in system_columns),
                                 *(format_value(row.get(n), types[n]) for n in names)])
    return count


def _spoolable(row: dict[str, Any]) -> dict[str, Any]:
    """JSON keeps int, float and bool apart (and NaN/Infinity); only sets need turning into lists."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, set):
            value = sorted(value, key=str)
        out[key] = value
    return out


def _check_property_name(name: str, row: dict[str, Any]) -> None:
    if not name or name.startswith("~") or ":" in name:
        raise ValueError(f"property {name!r} on {row.get('~id')!r} cannot be a bulk-loader column "
                         "(names must not start with '~' or contain ':')")
