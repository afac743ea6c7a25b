"""A small runner for TinkerPop's Gherkin feature files (gremlin-test 3.7.3), through gremlinpython and graphserver.

Each scenario's traversal text is parsed into bytecode on the client side (graph.gremlin_lang, the
parser graphserver also uses for `eval`), sent with gremlinpython's DriverRemoteConnection to a
graphserver holding the scenario's graph, and its results are compared with the scenario's table
in TinkerPop's value notation (`v[marko]`, `d[29].i`, `m[{...}]`, `p[...]`, ...). Every scenario
ends with an outcome: passed, or failed with a short cause used to group the failures.
"""
from __future__ import annotations

import datetime
import json
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.driver.protocol import GremlinServerError
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import GraphTraversal
from gremlin_python.process.traversal import Direction, Merge, P, T
from gremlin_python.statics import BigDecimal
from gremlin_python.structure.graph import Edge, Property, Vertex, VertexProperty
from gremlin_python.structure.graph import Path as GPath

from graph.embedded import EmbeddedStore
from graph.errors import UnsupportedTraversal
from graph.gremlin_lang import parse
from graph.server import BackgroundServer
from graph.translate import Script

HERE = Path(__file__).resolve().parent
FEATURES = HERE / "features"
DATA = {"modern": "tinkerpop-modern-v3.json", "classic": "tinkerpop-classic-v3.json",
        "crew": "tinkerpop-crew-v3.json", "sink": "tinkerpop-sink-v3.json", "grateful": "grateful-dead-v3.json"}
NOT_RUNNABLE_TAGS = {"@GraphComputerOnly"}
WRITES = re.compile(r"\b(addV|addE|drop|property|mergeV|mergeE)\b")


@dataclass
class Scenario:
    feature: str
    name: str
    tags: set[str] = field(default_factory=set)
    graph: str = "empty"
    initializer: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    traversal: str = ""
    action: str = "list"
    expectation: str = ""
    table: list[str] = field(default_factory=list)
    count: int | None = None
    error_text: str | None = None
    graph_counts: list[tuple[int, str]] = field(default_factory=list)


def scenarios(root: Path = FEATURES) -> list[Scenario]:
    found: list[Scenario] = []
    for path in sorted(root.rglob("*.feature")):
        found.extend(_parse_feature(path))
    return found


def _parse_feature(path: Path) -> list[Scenario]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Scenario] = []
    tags: set[str] = set()
    current: Scenario | None = None
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            tags |= set(line.split())
            continue
        if line.startswith("Scenario:"):
            current = Scenario(feature=path.stem, name=line.split(":", 1)[1].strip(), tags=tags)
            found.append(current)
            tags = set()
            continue
        if line.startswith("Feature:"):
            tags = set()
            continue
        if current is None:
            continue
        if line.startswith('"""'):
            continue
        if line.startswith("|"):
            cell = line.strip("|").strip().replace("\\\\", "\\").replace("\\|", "|")  # Gherkin cell escapes
            if cell != "result":
                current.table.append(cell)
            continue
        i = _step(current, line, lines, i)
    return found


def _docstring(lines: list[str], i: int) -> tuple[str, int]:
    while not lines[i].strip().startswith('"""'):
        i += 1
    body = []
    i += 1
    while not lines[i].strip().startswith('"""'):
        body.append(lines[i].strip())
        i += 1
    return " ".join(body), i + 1


def _step(s: Scenario, line: str, lines: list[str], i: int) -> int:
    words = line.split(" ", 1)[1] if " " in line else ""
    if match := re.fullmatch(r"the (\w+) graph", words):
        s.graph = match.group(1)
    elif words == "the graph initializer of":
        s.initializer, i = _docstring(lines, i)
    elif words == "the traversal of":
        s.traversal, i = _docstring(lines, i)
    elif match := re.fullmatch(r'using the parameter (\w+) defined as "(.*)"', words):
        s.params[match.group(1)] = match.group(2).replace('\\"', '"')
    elif match := re.fullmatch(r'using the parameter (\w+) of P\.(\w+)\("(.*)"\)', words):
        s.params[match.group(1)] = f"P.{match.group(2)}:{match.group(3)}"
    elif words == "iterated to list":
        s.action = "list"
    elif words == "iterated next":
        s.action = "next"
    elif match := re.fullmatch(r"the result should be (unordered|ordered|of|empty)", words):
        s.expectation = match.group(1)
    elif match := re.fullmatch(r"the result should have a count of (\d+)", words):
        s.expectation, s.count = s.expectation or "count", int(match.group(1))
        if s.expectation != "count":
            s.graph_counts.append((int(match.group(1)), ""))
    elif match := re.fullmatch(r'the graph should return (\d+) for count of "(.*)"', words):
        s.graph_counts.append((int(match.group(1)), match.group(2).replace('\\"', '"')))
    elif match := re.fullmatch(r'the traversal will raise an error(?: with message (?:containing|starting with|'
                               r'ending with) text of "(.*)")?', words):
        s.expectation, s.error_text = "error", match.group(1)
    elif words.startswith("nothing should happen"):
        s.expectation = "nothing"
    return i


# ---------------------------------------------------------------- worlds: one server per graph


class World:
    """A graphserver over one in-memory store holding one of TinkerPop's graphs (or none)."""

    def __init__(self, graph: str, timeout_ms: int, serializer: Callable[[], Any] | None) -> None:
        self.graph = graph
        self.store = EmbeddedStore("memory")
        self.dirty = True
        self.server = BackgroundServer(self.store, evaluation_timeout_ms=timeout_ms).start()
        options = {"message_serializer": serializer()} if serializer else {}
        self.binary = serializer is None or "GraphSON" not in type(options.get("message_serializer")).__name__
        self.remote = DriverRemoteConnection(self.server.url, "g", **options)
        self.g = traversal().with_remote(self.remote)
        self._names: dict[tuple[str, str], Any] = {}

    def reset(self, scenario: Scenario) -> None:
        """A fresh copy of the graph after any scenario that may have changed it."""
        self._names.clear()
        if self.dirty:
            self.store.run(Script(text="g.V().drop()", discard=True))
            if self.graph in DATA:
                self.store.graph.import_graphson(str(HERE / "data" / DATA[self.graph]))
        self.dirty = self.graph == "empty" or bool(WRITES.search(scenario.traversal + (scenario.initializer or "")))

    def close(self) -> None:
        self.remote.close()
        self.server.stop()
        self.store.close()

    def run(self, text: str, bindings: dict[str, Any]) -> list[Any]:
        bytecode = parse(text, {k: _wire(v) for k, v in bindings.items()} if self.binary else bindings)
        return GraphTraversal(self.g.graph, self.g.traversal_strategies, bytecode).to_list()

    def vertex(self, name: str) -> Vertex:
        key = ("v", name)
        if key not in self._names:
            found = self.g.V().has("name", name).to_list()
            if not found:
                raise LookupError(f"no vertex named {name}")
            self._names[key] = found[0]
        return self._names[key]  # type: ignore[no-any-return]

    def edge(self, spec: str) -> Edge:
        key = ("e", spec)
        if key not in self._names:
            out_name, rest = spec.split("-", 1)
            label, in_name = rest.split("->", 1)
            found = self.g.V(self.vertex(out_name).id).out_e(label).where(
                _anon().in_v().has("name", in_name)).to_list()
            if not found:
                raise LookupError(f"no edge {spec}")
            self._names[key] = found[0]
        return self._names[key]  # type: ignore[no-any-return]


def _wire(value: Any) -> Any:
    """gremlinpython writes a BigDecimal in GraphBinary only as its own statics.BigDecimal."""
    if isinstance(value, Decimal):
        sign, digits, exponent = value.as_tuple()
        unscaled = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
        return BigDecimal(-int(exponent), unscaled)
    if isinstance(value, list):
        return [_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    return value


def _anon() -> Any:
    from gremlin_python.process.graph_traversal import __

    return __


# ---------------------------------------------------------------- TinkerPop's value notation


class Unsupported(Exception):
    """A scenario this runner cannot express (lambdas in parameters)."""


def value(text: str, world: World) -> Any:
    text = text.strip()
    if text.startswith("P.") and ":" in text:
        operator, argument = text[2:].split(":", 1)
        return P(operator, value(argument, world))
    if text == "null":
        return None
    if text in {"true", "false"}:
        return text == "true"
    match = re.fullmatch(r"(\w+)\[(.*)\](\.\w+)?", text, re.DOTALL)
    if not match:
        return text
    kind, body, suffix = match.group(1), match.group(2), (match.group(3) or "")[1:]
    if kind == "d":
        return _number(body, suffix)
    if kind == "v":
        vertex = world.vertex(body)
        return vertex.id if suffix == "id" else str(vertex.id) if suffix == "sid" else vertex
    if kind == "e":
        edge = world.edge(body)
        return edge.id if suffix == "id" else str(edge.id) if suffix == "sid" else edge
    if kind in {"l", "s", "p"}:
        items = [value(item, world) for item in _split(body)] if body.strip() else []
        return set_of(items) if kind == "s" else PathValue(items) if kind == "p" else items
    if kind == "m":
        return _map(json.loads(body), world)
    if kind == "t":
        return T[body] if body in T.__members__ else T[body + "_"]
    if kind == "D":
        return {"from": Direction.OUT, "to": Direction.IN}.get(body) or Direction[body]
    if kind == "M":
        return {"outV": Merge.out_v, "inV": Merge.in_v, "onCreate": Merge.on_create, "onMatch": Merge.on_match}[body]
    if kind == "str":
        return body
    if kind == "dt":
        return datetime.datetime.fromisoformat(body.replace("Z", "+00:00"))
    if kind == "vp":
        key, val = body.split("->", 1)
        return VertexProperty(None, key, value(val, world), None)
    if kind == "c":
        raise Unsupported("lambda parameter")
    return text


def _number(body: str, suffix: str) -> Any:
    if body in {"NaN", "Infinity", "-Infinity"}:
        return float(body.replace("Infinity", "inf"))
    if suffix == "m":
        return Decimal(body)
    if suffix in {"i", "l", "n", "b", "s"}:
        return int(body)
    return float(body)


def _split(body: str) -> list[str]:
    items, depth, start = [], 0, 0
    for index, char in enumerate(body):
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(body[start:index])
            start = index + 1
    items.append(body[start:])
    return items


def _map(raw: Any, world: World) -> Any:
    if isinstance(raw, dict):
        return {_hashable(_map(k, world)): _map(v, world) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_map(v, world) for v in raw]
    if isinstance(raw, str):
        return value(raw, world)
    return raw


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


class PathValue(list):  # type: ignore[type-arg]
    """`p[...]` in a table: compared with a gremlinpython Path's objects."""


def set_of(items: list[Any]) -> Any:
    return SetValue(items)


class SetValue(list):  # type: ignore[type-arg]
    """`s[...]` in a table: compared as a set."""


def norm(x: Any) -> Any:
    """A hashable, comparable form of a result or an expected value."""
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return ("b", x) if isinstance(x, bool) else x
    if isinstance(x, float) and math.isnan(x):
        return ("nan",)
    if isinstance(x, (int, float, Decimal)):
        return ("num", float(x)) if not isinstance(x, Decimal) else ("num", float(x))
    if isinstance(x, Vertex) and not isinstance(x, VertexProperty):
        return ("v", str(x.id))
    if isinstance(x, Edge):
        return ("e", str(x.id))
    if isinstance(x, VertexProperty):
        return ("vp", x.key, norm(x.value))
    if isinstance(x, Property):
        return ("p", x.key, norm(x.value))
    if isinstance(x, GPath):
        return ("path", tuple(norm(o) for o in x.objects))
    if isinstance(x, PathValue):
        return ("path", tuple(norm(o) for o in x))
    if isinstance(x, (SetValue, set, frozenset)):
        return ("set", frozenset(norm(o) for o in x))
    if isinstance(x, dict):
        return ("map", frozenset(Counter((norm(k), norm(v)) for k, v in x.items()).items()))
    if isinstance(x, (list, tuple)):
        return ("list", tuple(norm(o) for o in x))
    if isinstance(x, Enum):
        return ("tok", type(x).__name__, x.name.rstrip("_").lower())
    if isinstance(x, datetime.datetime):
        return ("dt", (x if x.tzinfo else x.replace(tzinfo=datetime.UTC)).timestamp())
    return ("other", repr(x))


# ---------------------------------------------------------------- running


@dataclass
class Outcome:
    scenario: Scenario
    passed: bool
    cause: str = ""


def run_scenario(s: Scenario, world: World) -> Outcome:
    if s.expectation == "nothing" or s.tags & NOT_RUNNABLE_TAGS:
        return Outcome(s, False, "not runnable")
    world.reset(s)
    try:
        if s.initializer:
            world.run(s.initializer, {})
        bindings = {name: value(raw, world) for name, raw in s.params.items()}
        try:
            results = world.run(s.traversal, bindings)
        except GremlinServerError as exc:
            if s.expectation == "error":
                return _error_outcome(s, str(exc))
            return Outcome(s, False, _cause(str(exc)))
        except UnsupportedTraversal as exc:
            return Outcome(s, False, "parse: " + _short(str(exc)))
        if s.expectation == "error":
            return Outcome(s, False, "no error raised")
        if s.action == "next":
            first = results[0] if results else None
            results = (list(first) if isinstance(first, (list, set)) else
                       list(first.items()) if isinstance(first, dict) and s.expectation == "count" else [first])
        ok, cause = _compare(s, results, world)
        if ok:
            for expected, query in s.graph_counts:
                if query and len(world.run(query, bindings)) != expected:
                    return Outcome(s, False, "graph count differs after the traversal")
        return Outcome(s, ok, cause)
    except Unsupported as exc:
        return Outcome(s, False, str(exc))
    except LookupError as exc:
        return Outcome(s, False, f"graph lookup: {exc}")
    except GremlinServerError as exc:
        return Outcome(s, False, "initializer/count: " + _cause(str(exc)))
    except UnsupportedTraversal as exc:
        return Outcome(s, False, "parse: " + _short(str(exc)))
    except Exception as exc:  # noqa: BLE001 - a client-side failure is this scenario's outcome, not the run's
        return Outcome(s, False, f"client: {type(exc).__name__} {_short(str(exc))}")


def _error_outcome(s: Scenario, message: str) -> Outcome:
    if s.error_text is None or s.error_text in message:
        return Outcome(s, True)
    return Outcome(s, False, "error raised with another text")


def _compare(s: Scenario, results: list[Any], world: World) -> tuple[bool, str]:
    if s.expectation == "empty":
        return (not results, "results where none were expected")
    if s.expectation == "count":
        return (len(results) == s.count, "count differs")
    expected = [value(cell, world) for cell in s.table]
    actual_n, expected_n = [norm(r) for r in results], [norm(e) for e in expected]
    if s.expectation == "ordered":
        return (actual_n == expected_n, "values or order differ")
    if s.expectation == "unordered":
        return (Counter(actual_n) == Counter(expected_n), "values differ")
    if s.expectation == "of":
        return (all(a in set(expected_n) for a in actual_n) and (s.count is None or len(results) == s.count),
                "values outside the allowed set")
    return (False, f"expectation {s.expectation!r} unknown")


def _cause(message: str) -> str:
    """A short cause for grouping failures: the status and the first words of the reason."""
    match = re.match(r"(\d+): (.*)", message, re.DOTALL)
    status, text = (match.group(1), match.group(2)) if match else ("?", message)
    reason = text.split("Caused by:", 1)[-1].strip().splitlines()[0] if text else ""
    return f"{status} {_short(reason)}"


def _short(text: str) -> str:
    text = re.sub(r"\d+", "N", text)
    if not VERBOSE:
        text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    return text[:90]


VERBOSE = False


def run_all(serializer: Callable[[], Any] | None = None, timeout_ms: int = 10_000,
            selection: Callable[[Scenario], bool] | None = None) -> list[Outcome]:
    chosen = [s for s in scenarios() if selection is None or selection(s)]
    outcomes: list[Outcome] = []
    worlds: dict[str, World] = {}
    try:
        for s in chosen:
            if s.graph not in worlds:
                worlds[s.graph] = World(s.graph, timeout_ms, serializer)
            outcomes.append(run_scenario(s, worlds[s.graph]))
    finally:
        for world in worlds.values():
            world.close()
    return outcomes


def summary(outcomes: list[Outcome]) -> str:
    passed = sum(o.passed for o in outcomes)
    causes = Counter(o.cause for o in outcomes if not o.passed)
    lines = [f"{passed} of {len(outcomes)} scenarios passed"]
    lines += [f"{count:5d}  {cause}" for cause, count in causes.most_common()]
    return "\n".join(lines)


if __name__ == "__main__":
    import os
    import sys

    import django

    sys.path.insert(0, str(HERE.parents[2]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "journeyhub.settings.test")
    django.setup()
    from graph.graphbinary import graph_binary_serializer

    print(summary(run_all(graph_binary_serializer)))
