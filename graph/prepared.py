"""Reads that run while a caller waits, translated once for the embedded store (reads only: they run
under the engine's read-only policy, so a prepared traversal that tried to write would be refused).

Building a gremlinpython traversal, letting gremlinpython drive it and translating its bytecode costs
about half as much CPU again as the engine spends running a short read, on every call. A prepared read
builds its traversal once per shape with named placeholders (`Param`), keeps the engine's script text
and binds only the values on each call. Remote stores (ws://, Neptune) get the same traversal built
with the values, as every other read does, so each read still has one definition in portable Gremlin.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from gremlin_python.process.graph_traversal import GraphTraversal, GraphTraversalSource

from graph.connection import get_connection
from graph.embedded import PLAIN_RESULT_STEPS, READ_POLICY, to_gremlin
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
    return _run(build, shape, values, elements=True)


def run_values(build: Build, shape: tuple[Hashable, ...], **values: Any) -> list[Any]:
    """`run` for a read whose results hold only values (maps, lists, strings, numbers: a `project` of
    properties, ids and counts), never a vertex or an edge. The engine's results are returned as they
    come, without the walk that turns elements into gremlinpython's types: for a caller's 200-event
    history that walk is a tenth of a risk decision's Python time."""
    return _run(build, shape, values, elements=False)


def _run(build: Build, shape: tuple[Hashable, ...], values: dict[str, Any], *, elements: bool) -> list[Any]:
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
    # a read under the read-only policy, outside the process's lock: reads run side by side (the engine
    # keeps each consistent), and none waits on another's turn to get the GIL back after the engine ran
    results = store.run(Script(prepared.text, {**prepared.constants, **bound}), policy=READ_POLICY, exclusive=False)
    return results if prepared.plain or not elements else [to_gremlin(r) for r in results]


def _prepare(g: GraphTraversalSource, build: Build, shape: tuple[Hashable, ...], values: dict[str, Any],
             lists: tuple[str, ...]) -> _Prepared:
    placeholders = {name: Param(name, json=name in lists) for name in values}
    bytecode = build(g, *shape, **placeholders).bytecode
    script = translate(bytecode)
    steps = bytecode.step_instructions
    text, constants = _inlined(script.text, script.params)
    return _Prepared(text, constants, bool(steps) and steps[-1][0] in PLAIN_RESULT_STEPS)


PARAMETER = re.compile(r"\bp\d+\b")
PLAIN_TEXT = re.compile(r"[A-Za-z0-9_.:@+/ -]*")


def _inlined(text: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The script with its constants (labels, keys, small numbers: the translator binds every literal)
    written into the text where they need no escaping; the rest stay bound. The engine binds each
    parameter on every run: for the risk read's 31 constants that was a sixth of its time."""
    kept: dict[str, Any] = {}

    def literal(found: re.Match[str]) -> str:
        name = found.group(0)
        value = params[name]
        if type(value) is str and PLAIN_TEXT.fullmatch(value):
            return f'"{value}"'
        if type(value) is int and 0 <= value < 2**53:
            return str(value)
        kept[name] = value
        return name

    return PARAMETER.sub(literal, text), kept
