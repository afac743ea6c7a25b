"""Translate gremlinpython bytecode into the embedded engine's Gremlin script with bound parameters.

Every literal becomes a named parameter, so user text never becomes script text. Lists and maps
cannot be parameters in the engine, so they travel as one JSON string unpacked by `parse_json`;
tokens inside maps (`T.id`, `Direction.out`) become the reserved string keys the engine expects.
Anything outside the portable subset is refused with a clear error instead of being guessed.

Bytecode may come from any client (graphserver), so nothing from it is written into the script
unchecked: step names, token names and predicate operators are looked up in allow-lists first
(ALLOWED_STEPS, ALLOWED_SOURCE_STEPS, ALLOWED_TOKENS, P_OPERATORS/TEXTP_OPERATORS). A name outside
them, such as a step called `drop().iterate();g.V`, is refused before any script text exists.
"""
from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from gremlin_python.process.traversal import (
    Binding,
    Bytecode,
    Cardinality,
    Direction,
    Merge,
    P,
    Pick,
    Scope,
    T,
    TextP,
    Traversal,
    TraversalStrategy,
)
from gremlin_python.structure.graph import Edge, Vertex

from graph.errors import UnsupportedTraversal
from graph.strategies import apply_strategies

# TinkerPop 3.7 GraphTraversal steps the engine may run on behalf of a client. Steps that reach
# files or the process (io, read, write, call) or need OLAP are left out and refused by name.
ALLOWED_STEPS = frozenset("""
    E V addE addV aggregate all and any as asDate asString barrier both bothE bothV branch by cap choose
    coalesce coin combine concat conjoin constant count cyclicPath dateAdd dateDiff dedup difference disjunct
    drop element elementMap emit fail filter flatMap fold format from group groupCount has hasId hasKey
    hasLabel hasNot hasValue id identity in inE inV index inject intersect is key lTrim label length limit
    local loops map math max mean merge mergeE mergeV min none not option optional or order otherV out outE
    outV path product project properties property propertyMap rTrim range repeat replace reverse sack sample
    select sideEffect simplePath skip split store substring sum tail times to toE toLower toUpper toV trim
    unfold union until value valueMap values where with
""".split())
# source instructions (g.withX(...)); strategies are rewritten into steps first (graph.strategies)
ALLOWED_SOURCE_STEPS = frozenset({"withSideEffect", "withSack", "withBulk"})
# token enum → members (gremlinpython's Python names; trailing underscores and snake case are
# turned into the Java names the engine reads by `_java_name`)
ALLOWED_TOKENS: dict[str, frozenset[str]] = {
    "T": frozenset({"id", "id_", "key", "label", "value"}),
    "Order": frozenset({"asc", "desc", "shuffle"}),
    "Scope": frozenset({"global_", "local"}),
    "Column": frozenset({"keys", "values"}),
    "Pop": frozenset({"all_", "first", "last", "mixed"}),
    "Merge": frozenset({"on_create", "on_match", "out_v", "in_v"}),
    "Direction": frozenset({"OUT", "IN", "BOTH", "from_", "to"}),
    "Operator": frozenset({"addAll", "add_all", "and_", "assign", "div", "max", "max_", "min", "min_", "minus",
                           "mult", "or_", "sum_", "sumLong", "sum_long"}),
    "Pick": frozenset({"any_", "none"}),
    "Barrier": frozenset({"normSack", "norm_sack"}),
    "Cardinality": frozenset({"single", "list_", "set_"}),
    "DT": frozenset({"second", "minute", "hour", "day"}),
}
P_OPERATORS = frozenset({"eq", "neq", "lt", "lte", "gt", "gte", "inside", "outside", "between", "within", "without",
                         "not", "and", "or"})
TEXTP_OPERATORS = frozenset({"containing", "notContaining", "startingWith", "notStartingWith", "endingWith",
                             "notEndingWith", "regex", "notRegex", "and", "or"})
# Steps refused by name, each with its reason: TinkerPop's own text where TinkerPop defines one (the
# VertexComputing steps without a GraphComputer); match() and tree() run on every TinkerPop graph, so
# TinkerPop has no text for refusing them and the reason is this graph's.
OLAP = "VertexComputing steps must be executed with a GraphComputer (this server has none)"
REFUSED_STEPS = {"match": "match() is not portable: the graph engine reserves the word; write the pattern with "
                          "as(), where() and select()",
                 "tree": "tree() is not supported by this graph: its engine cannot hand back a tree keyed by "
                         "vertices; use path() or group()",
                 "withStrategies": "traversal strategies are not supported",
                 "withoutStrategies": "traversal strategies are not supported", "io": "io() is not allowed",
                 "program": OLAP, "pageRank": OLAP, "peerPressure": OLAP, "connectedComponent": OLAP,
                 "shortestPath": OLAP, "withComputer": "OLAP is not supported",
                 "read": "io() is not allowed", "write": "io() is not allowed",
                 "call": "service calls are not supported"}
# TinkerPop's own texts (VertexProperty.Exceptions) for the property features this graph lacks
MULTI_PROPERTIES = "Multiple properties on a vertex is not supported"
META_PROPERTIES = "Properties on a vertex property is not supported"
ENUM_NAME_FIXES = {("Direction", "OUT"): "out", ("Direction", "IN"): "in", ("Direction", "BOTH"): "both",
                   ("Direction", "from_"): "out", ("Direction", "to"): "in"}
# values the engine takes as bound parameters as they are (NaN and infinity included)
ENGINE_SCALARS = (str, int, float, bool, uuid.UUID, datetime.datetime, datetime.date, datetime.time,
                  datetime.timedelta)
ROW_KEYS: dict[Any, str] = {T.id: "T.id", T.label: "T.label", Direction.OUT: "Direction.OUT",
                            Direction.IN: "Direction.IN"}


@dataclass(frozen=True)
class JsonRows:
    """Rows already serialised for the engine. gremlinpython copies list and map arguments deeply
    when it builds bytecode; bulk writes to the embedded store skip that by passing this instead."""

    text: str

    @classmethod
    def of(cls, rows: list[dict[Any, Any]]) -> JsonRows:
        return cls(json.dumps([_flat_row(row) for row in rows]))


def _flat_row(row: dict[Any, Any]) -> dict[str, Any]:
    """A fast `_jsonable` for the shape bulk writes use: maps of scalars or of maps of scalars (token
    keys are looked up only when a key is not a string: hashing gremlinpython's enums is slow)."""
    return {(k if type(k) is str else ROW_KEYS[k]): (_flat_row(v) if type(v) is dict else v) for k, v in row.items()}


@dataclass(frozen=True)
class Param:
    """A named placeholder in a traversal translated once and run many times (graph.prepared): the
    script names it instead of a literal, and each run binds its value. `json` marks a list, which
    the engine only takes as JSON text unpacked by `parse_json`."""

    name: str
    json: bool = False

    @property
    def variable(self) -> str:
        return f"q_{self.name}"


@dataclass
class Script:
    """One script with its parameters, ready for `Graph.execute`."""

    text: str
    params: dict[str, Any] = field(default_factory=dict)
    discard: bool = False

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return name


def translate(bytecode: Bytecode) -> Script:
    """`iterate()` appends a `none()` step (discard results) that the engine lacks: drop it and
    mark the script so the caller returns nothing."""
    script = Script(text="")
    script.text, script.discard = _statement(apply_strategies(bytecode), script)
    return script


def translate_many(bytecodes: list[Bytecode]) -> Script:
    """Several write traversals as one script (one statement each, shared parameters), so the
    embedded store can run a whole ingest batch as one all-or-nothing unit."""
    script = Script(text="", discard=True)
    script.text = append_statements(script, bytecodes)
    return script


def append_statements(script: Script, bytecodes: list[Bytecode]) -> str:
    """Write traversals as statements of a script that is being built (parameters shared)."""
    return "".join(_statement(bytecode, script)[0] + ".iterate();\n" for bytecode in bytecodes)


MAX_INJECT_ARGUMENTS = 10  # the engine's inject() takes at most ten values


def _statement(bytecode: Bytecode, script: Script) -> tuple[str, bool]:
    steps = list(bytecode.step_instructions)
    if steps and steps[0][0] == "inject" and len(steps[0]) > MAX_INJECT_ARGUMENTS + 1:
        steps[0:1] = [["inject", list(steps[0][1:])], ["unfold"]]  # the same values, one level down
    discard = bool(steps) and steps[-1] == ["none"]
    if discard:
        steps = steps[:-1]
    text = "g" + _instructions(bytecode.source_instructions, script, source=True)
    return text + _instructions(steps, script, source=False), discard


def _instructions(instructions: list[list[Any]], script: Script, *, source: bool) -> str:
    parts = []
    instructions = _choose_without_default(_value_map_tokens(instructions))
    previous = ""
    for name, *args in instructions:
        _check_step(name, source=source)
        if name == "property" and len(args) in {2, 3} and args[-1] is None and previous in NEW_ELEMENT_STEPS:
            continue  # property(key, null) on an element being added: it has no such property to remove
        previous = name if name in {"addV", "addE"} or (name in {"property", "from", "to"} and previous) else ""
        if name == "to" and args and isinstance(args[0], Direction):
            # to(Direction, labels…) is TinkerPop's vertex step: to(OUT, "x") is out("x")
            name, args = {Direction.OUT: "out", Direction.IN: "in"}.get(args[0], "both"), args[1:]
        if name == "aggregate" and args and isinstance(args[0], Scope):
            # aggregate(local, key) is TinkerPop 3.7's spelling of store(key); global is the default
            name, args = ("store" if args[0] is Scope.local else "aggregate"), args[1:]
        if name == "property" and len(args) - (bool(args) and isinstance(args[0], Cardinality)) > 2:
            raise UnsupportedTraversal(f"{META_PROPERTIES} (property(key, value, key, value…) gives the property "
                                       "properties of its own, which this graph does not keep)")
        if name == "property" and len(args) in {2, 3} and args[-1] is None and isinstance(args[-2], str):
            # property(key, null) removes the property (TinkerPop without null property values)
            name, args = "sideEffect", [_drop_property(args[-2])]
        if name == "asString" and not args:
            # asString() of null is null (TinkerPop); the engine refuses null
            null = script.bind(None)
            parts.append(f".choose(__.is(P.eq({null})), __.identity(), __.asString())")
            continue
        if name in LOCAL_SLICES and args and args[0] is Scope.local:
            # a local range that leaves nothing drops the traverser (TinkerPop); the engine passes []
            parts.append(f".{name}({', '.join(_value(arg, script) for arg in args)})")
            parts.append(".filter(__.unfold())")
            continue
        if name in {"V", "E"} and len(args) > 1:
            args = [list(args)]  # the engine takes many ids as one list, not as many arguments
        rendered = ", ".join(_value(arg, script) for arg in args)
        parts.append(f".{name}({rendered})")
    return "".join(parts)


WRITE_STEPS = frozenset({"addE", "addV", "drop", "mergeE", "mergeV", "property", "sideEffect"})


def is_read_only(bytecode: Bytecode) -> bool:
    """Whether no step of the traversal, nor of a child traversal, writes. Checked before running a
    read without the store's lock; the engine's read-only policy backs the answer up."""
    for name, *args in bytecode.source_instructions + bytecode.step_instructions:
        if name in WRITE_STEPS:
            return False
        for arg in args:
            child = arg.bytecode if isinstance(arg, Traversal) else arg
            if isinstance(child, Bytecode) and not is_read_only(child):
                return False
    return True


VALUE_MAP_TOKENS = "~tinkerpop.valueMap.tokens"
LOCAL_SLICES = {"range", "limit", "tail", "skip"}
NEW_ELEMENT_STEPS = {"addV", "addE", "property"}


def _value_map_tokens(instructions: list[list[Any]]) -> list[list[Any]]:
    """valueMap(keys).with(WithOptions.tokens) is valueMap(true, keys), the form the engine knows."""
    if not any(step[0] == "with" and VALUE_MAP_TOKENS in step[1:2] for step in instructions):
        return instructions
    out: list[list[Any]] = []
    for step in instructions:
        if (step[0] == "with" and step[1:2] == [VALUE_MAP_TOKENS] and step[2:] in ([], [15], [3]) and out
                and out[-1][0] == "valueMap" and out[-1][1:2] != [True]):
            out[-1] = ["valueMap", True, *out[-1][1:]]
            continue
        out.append(step)
    return out


def _choose_without_default(instructions: list[list[Any]]) -> list[list[Any]]:
    """choose(traversal).option(k, …) drops a traverser no option matches (TinkerPop); the engine
    passes it on unchanged, so a choose without option(Pick.none, …) gets one that yields nothing."""
    if not any(step[0] == "choose" and len(step) == 2 for step in instructions):
        return instructions
    out: list[list[Any]] = []
    index = 0
    while index < len(instructions):
        step = instructions[index]
        out.append(step)
        index += 1
        if step[0] != "choose" or len(step) != 2 or not isinstance(step[1], (Bytecode, Traversal)):
            continue
        options = []
        while index < len(instructions) and instructions[index][0] == "option":
            options.append(instructions[index])
            index += 1
        out.extend(options)
        if options and not any(option[1:2] == [Pick.none] for option in options):
            nothing = Bytecode()
            nothing.add_step("limit", 0)
            out.append(["option", Pick.none, nothing])
    return out


def _drop_property(key: str) -> Bytecode:
    drop = Bytecode()
    drop.add_step("properties", key)
    drop.add_step("drop")
    return drop


def _check_step(name: Any, *, source: bool) -> None:
    """Only names on the allow-lists are ever written into a script."""
    if not isinstance(name, str):
        raise UnsupportedTraversal(f"a step name must be a string, got {type(name).__name__}")
    if name in REFUSED_STEPS:
        raise UnsupportedTraversal(f"{name}(): {REFUSED_STEPS[name]}")
    if source and name in {"with", "withPath"}:
        raise UnsupportedTraversal(f"source step {name}() is not supported by the embedded store")
    allowed = ALLOWED_SOURCE_STEPS if source else ALLOWED_STEPS
    if name not in allowed:
        kind = "source step" if source else "step"
        raise UnsupportedTraversal(f"unknown {kind} {_shown(name)}: not on this server's list of allowed steps")


def _shown(name: str) -> str:
    """A name from the wire as it may appear in an error message (quoted, bounded)."""
    return repr(name[:60] + ("…" if len(name) > 60 else ""))


def _child(bytecode: Bytecode, script: Script) -> str:
    if bytecode.source_instructions:
        raise UnsupportedTraversal("a child traversal cannot have source steps")
    body = _instructions(bytecode.step_instructions, script, source=False)
    return "__" + body if body else "__.identity()"


def _value(arg: Any, script: Script) -> str:
    if isinstance(arg, Param):
        return f"parse_json({arg.variable})" if arg.json else arg.variable
    if isinstance(arg, JsonRows):
        return f"parse_json({script.bind(arg.text)})"
    if isinstance(arg, Bytecode):
        return _child(arg, script)
    if isinstance(arg, Traversal):
        return _child(arg.bytecode, script)
    if isinstance(arg, Binding):
        return _value(arg.value, script)
    if isinstance(arg, (P, TextP)):
        return _predicate(arg, script)
    if isinstance(arg, Cardinality):
        if arg is not Cardinality.single:
            raise UnsupportedTraversal(f"{MULTI_PROPERTIES} (this graph keeps one value per property key, so "
                                       f"Cardinality.{_java_name(arg.name)} cannot be kept)")
        return "Cardinality.single"
    if isinstance(arg, Enum):
        return _enum(arg)
    if isinstance(arg, TraversalStrategy):
        raise UnsupportedTraversal("traversal strategies are not supported")
    if isinstance(arg, (dict, list, tuple, set)):
        return _collection(arg, script)
    if arg is None or isinstance(arg, ENGINE_SCALARS):
        return script.bind(arg)
    if isinstance(arg, (Vertex, Edge)):
        return script.bind(arg.id)  # an element stands for its id (V(v), to(v), from(v))
    if isinstance(arg, Decimal):
        return script.bind(_exact_float(arg))
    raise UnsupportedTraversal(f"values of type {type(arg).__name__} are not supported")


def _collection(arg: dict[Any, Any] | list[Any] | tuple[Any, ...] | set[Any], script: Script) -> str:
    """Lists and maps travel as one JSON text; a list holding values JSON cannot carry (NaN, infinity,
    UUIDs, dates) becomes an array of bound parameters instead."""
    try:
        return f"parse_json({script.bind(json.dumps(_jsonable(arg), allow_nan=False))})"
    except (ValueError, TypeError) as exc:
        if isinstance(arg, dict):
            raise UnsupportedTraversal(f"a map argument can only hold JSON values (text, numbers, booleans, "
                                       f"lists, maps): {exc}") from exc
    return "[" + ", ".join(_value(item, script) for item in arg) + "]"


def _exact_float(number: Decimal) -> float:
    """The engine's numbers are 64-bit: a BigDecimal is taken when a double holds it exactly."""
    as_float = float(number)
    if not number.is_finite() or Decimal(as_float) != number:
        raise UnsupportedTraversal(f"BigDecimal {str(number)[:40]} cannot be held exactly by the graph store "
                                   "(64-bit numbers)")
    return as_float


def _enum(token: Enum) -> str:
    enum_name = type(token).__name__
    if token.name not in ALLOWED_TOKENS.get(enum_name, ()):
        raise UnsupportedTraversal(f"token {_shown(enum_name)}.{_shown(str(token.name))} is not supported")
    member = ENUM_NAME_FIXES.get((enum_name, token.name)) or _java_name(token.name)
    return f"{enum_name}.{member}"


def _java_name(python_name: str) -> str:
    """gremlinpython spells `Pop.all` as `all_` and `Merge.onCreate` as `on_create`."""
    head, *rest = python_name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _predicate(pred: P, script: Script) -> str:
    is_text = isinstance(pred, TextP)
    prefix = "TextP" if is_text else "P"
    if not isinstance(pred.operator, str) or pred.operator not in (TEXTP_OPERATORS if is_text else P_OPERATORS):
        raise UnsupportedTraversal(f"unknown predicate {prefix}.{_shown(str(pred.operator))}")
    if pred.operator == "not":
        return f"{prefix}.not({_value(pred.value, script)})"
    if pred.operator in {"and", "or"}:
        if not isinstance(pred.value, P) or not isinstance(pred.other, P):
            raise UnsupportedTraversal(f"{prefix}.{pred.operator}() joins two predicates")
        return f"{_predicate(pred.value, script)}.{pred.operator}({_predicate(pred.other, script)})"
    if pred.operator in {"within", "without"}:
        values = pred.value if isinstance(pred.value, (list, tuple, set)) else [pred.value]
        return f"{prefix}.{pred.operator}({_value(list(values), script)})"
    args = [pred.value] if pred.other is None else [pred.value, pred.other]
    rendered = ", ".join(_value(a, script) for a in args)
    return f"{prefix}.{pred.operator}({rendered})"


def _jsonable(value: Any) -> Any:
    """Maps and lists for `parse_json`: token keys become the engine's reserved string keys."""
    if isinstance(value, dict):
        return {_key(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (Vertex, Edge)):
        return value.id
    if isinstance(value, Merge) and value in (Merge.out_v, Merge.in_v):
        return f"Merge.{_java_name(value.name)}"  # mergeE's placeholder for the option(Merge.outV) vertex
    if isinstance(value, Enum):
        raise UnsupportedTraversal("tokens are only allowed as map keys inside a list or map argument")
    if isinstance(value, (Bytecode, Traversal, P)):
        raise UnsupportedTraversal("traversals and predicates cannot be nested in a map or list argument")
    return value


def _key(key: Any) -> str:
    if isinstance(key, Enum):
        enum_name = type(key).__name__
        if enum_name not in {"T", "Direction"}:
            raise UnsupportedTraversal(f"{enum_name}.{key.name} cannot be a map key")
        return f"{enum_name}.{'id' if key.name == 'id_' else key.name}"
    if not isinstance(key, str):
        raise UnsupportedTraversal("map keys must be strings (portable Gremlin uses string group keys)")
    return key


# ---------------------------------------------------------------- translations kept per shape
#
# graphserver receives the same few traversal shapes over and over with other values (a customer's
# id, a limit). A shape is the traversal with every text, number and boolean argument taken out:
# step names, tokens, predicate operators and child traversals stay. It is translated once, with a
# placeholder (`Param`) where each value was, and each request only binds its values. Step names,
# tokens and operators are part of the shape, so a shape found here passed the allow-lists when it
# was translated; anything whose translation depends on a value (null, lists and maps, `with`
# options, strategies, many ids or injected values, within/without) is translated afresh each time.

CACHED_SCALARS = (str, int, float, bool)
MAX_CACHED_SHAPES = 1024
MAX_SHAPE_VALUES = 64
MAX_SHAPE_PARTS = 256  # steps and arguments: larger traversals are rare and would make large keys


@dataclass(frozen=True)
class Translated:
    """A script with its values bound, and whether no step of it writes."""

    script: Script
    read_only: bool


@dataclass(frozen=True)
class _Shape:
    text: str
    constants: dict[str, Any]
    discard: bool
    read_only: bool


_shapes: dict[tuple[Any, ...], _Shape] = {}


def translate_cached(bytecode: Bytecode) -> Translated:
    """`translate(bytecode)` (and `is_read_only`), reusing the translation of an earlier traversal of
    the same shape."""
    values: list[Any] = []
    key = _shape_key(bytecode, values)
    if key is None or len(values) > MAX_SHAPE_VALUES or len(key) > MAX_SHAPE_PARTS:
        return Translated(translate(bytecode), is_read_only(bytecode))
    shape = _shapes.get(key)
    if shape is None:
        counter = iter(range(len(values)))
        script = translate(_with_placeholders(bytecode, counter))
        shape = _Shape(script.text, script.params, script.discard, is_read_only(bytecode))
        if len(_shapes) >= MAX_CACHED_SHAPES:
            _shapes.clear()
        _shapes[key] = shape
    params = dict(shape.constants)
    params.update({f"q_{index}": value for index, value in enumerate(values)})
    return Translated(Script(shape.text, params, shape.discard), shape.read_only)


def _shape_key(bytecode: Bytecode, values: list[Any]) -> tuple[Any, ...] | None:
    """The traversal's shape, collecting its values in order; None when it has no reusable shape."""
    key: list[Any] = []
    for source, instructions in ((True, bytecode.source_instructions), (False, bytecode.step_instructions)):
        for name, *args in instructions:
            if type(name) is not str or name in UNSHAPED_STEPS or len(args) > MAX_INJECT_ARGUMENTS or (
                    name in {"V", "E"} and len(args) > 1):
                return None
            key.append((source, name))
            for arg in args:
                part = _arg_shape(arg, values)
                if part is None:
                    return None
                key.append(part)
    return tuple(key)


UNSHAPED_STEPS = frozenset({"with", "withStrategies", "withoutStrategies"})


def _arg_shape(arg: Any, values: list[Any]) -> Any:
    kind = type(arg)
    if kind in CACHED_SCALARS:
        values.append(arg)
        return kind
    if isinstance(arg, Enum):
        return (type(arg).__name__, arg.name)
    if isinstance(arg, (Bytecode, Traversal)):
        child = arg.bytecode if isinstance(arg, Traversal) else arg
        inner = _shape_key(child, values) if not child.source_instructions else None
        return None if inner is None else ("child", inner)
    if isinstance(arg, P) and isinstance(arg.operator, str) and arg.operator not in {"within", "without"}:
        if arg.operator in {"and", "or"}:
            left, right = _arg_shape(arg.value, values), _arg_shape(arg.other, values)
            return None if left is None or right is None else (type(arg).__name__, arg.operator, left, right)
        if type(arg.value) in CACHED_SCALARS and (arg.other is None or type(arg.other) in CACHED_SCALARS):
            values.append(arg.value)
            if arg.other is not None:
                values.append(arg.other)
            return (type(arg).__name__, arg.operator, type(arg.value), type(arg.other))
    return None


def _with_placeholders(bytecode: Bytecode, counter: Any) -> Bytecode:
    """The traversal with a Param in place of each value, numbered in the order `_shape_key` met them."""
    copy = Bytecode()
    copy.source_instructions = [[name, *(_placeholder(a, counter) for a in args)]
                                for name, *args in bytecode.source_instructions]
    copy.step_instructions = [[name, *(_placeholder(a, counter) for a in args)]
                              for name, *args in bytecode.step_instructions]
    return copy


def _placeholder(arg: Any, counter: Any) -> Any:
    if type(arg) in CACHED_SCALARS:
        return Param(str(next(counter)))
    if isinstance(arg, (Bytecode, Traversal)):
        return _with_placeholders(arg.bytecode if isinstance(arg, Traversal) else arg, counter)
    if isinstance(arg, P):  # a value (and a second one), or the two predicates of and/or
        value = _placeholder(arg.value, counter)
        return type(arg)(arg.operator, value, None if arg.other is None else _placeholder(arg.other, counter))
    return arg
