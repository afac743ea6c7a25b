"""Reads that run while a caller waits, translated once for the embedded store.

Building a gremlinpython traversal, letting gremlinpython drive it and translating its bytecode costs
about half as much CPU again as the engine spends running a short read, on every call. A prepared read
builds its traversal once per shape with named placeholders (`Param`), keeps the engine's script text
and binds only the values on each call. Remote stores (ws://, Neptune) get the same traversal built
with the values, as every other read does, so each read still has one definition in portable Gremlin.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from gremlin_python.process.graph_traversal import GraphTraversal, GraphTraversalSource

from graph.connection import get_connection
from graph.embedded import PLAIN_RESULT_STEPS, to_gremlin
from graph.translate import Param, Script, translate

Build = Callable[..., GraphTraversal]


@dataclass(frozen=True)
class _Prepared:
    text: str
    constants: dict[str, Any]
    plain: bool


_prepared: dict[Hashable, _Prepared] = {}


def run(build: Build, shape: tuple[Hashable, ...], **values: Any) -> list[Any]:
    """The results of `build(g, *shape, **values).to_list()`.

    `shape` holds the arguments that change the traversal's steps (which start, which filters);
    `values` only fill it in (ids, times, limits; a list of ids as a list). On the embedded store the
    traversal of each shape is built and translated once, with a placeholder per value."""
    connection = get_connection()
    store = connection.embedded_store
    if store is None:
        return list(build(connection.g, *shape, **values).to_list())
    lists = tuple(sorted(name for name, value in values.items() if isinstance(value, list)))
    key = (build, shape, lists)
    prepared = _prepared.get(key)
    if prepared is None:
        prepared = _prepared[key] = _prepare(connection.g, build, shape, values, lists)
    bound = {Param(name).variable: json.dumps(value) if name in lists else value for name, value in values.items()}
    results = store.run(Script(prepared.text, {**prepared.constants, **bound}))
    return results if prepared.plain else [to_gremlin(r) for r in results]


def _prepare(g: GraphTraversalSource, build: Build, shape: tuple[Hashable, ...], values: dict[str, Any],
             lists: tuple[str, ...]) -> _Prepared:
    placeholders = {name: Param(name, json=name in lists) for name in values}
    bytecode = build(g, *shape, **placeholders).bytecode
    script = translate(bytecode)
    steps = bytecode.step_instructions
    return _Prepared(script.text, script.params, bool(steps) and steps[-1][0] in PLAIN_RESULT_STEPS)
