"""TinkerPop traversal strategies as bytecode rewrites, for an engine that has no strategies of its own.

A strategy changes what a traversal means; the ones that can be written as ordinary steps are
rewritten here before translation (graph.translate), so their steps pass the same allow-lists:

- SubgraphStrategy(vertices, edges): every step reaching vertices is followed by the vertex filter,
  every step reaching edges by the edge filter and by the vertex filter on both ends;
- PartitionStrategy(partitionKey, writePartition, readPartitions): reads as a subgraph of the read
  partitions, and every addV()/addE() writes the partition key;
- ReadOnlyStrategy: a traversal with a mutating step is refused with TinkerPop's message;
- ProductiveByStrategy: a by() whose traversal yields nothing yields null instead of filtering;
- withoutStrategies(...): optimisation strategies only change how a traversal runs, never its result,
  so removing them needs nothing.

Strategies with no such rewrite (SeedStrategy: the engine's randomness cannot be seeded) are refused
with the reason.
"""
from __future__ import annotations

from typing import Any

from gremlin_python.process.traversal import Bytecode, P, Traversal, TraversalStrategy

from graph.errors import UnsupportedTraversal

VERTEX_STEPS = {"V", "out", "in", "both", "inV", "outV", "otherV", "bothV", "addV", "mergeV"}
EDGE_STEPS = {"E", "outE", "inE", "bothE", "addE", "mergeE"}
WRITE_STEPS = {"addE", "addV", "drop", "mergeE", "mergeV", "property"}
ADJACENT = {"out": ("outE", "inV"), "in": ("inE", "outV"), "both": ("bothE", "otherV")}
MODULATORS_OF_ADD = {"from", "to", "property"}
READ_ONLY_MESSAGE = "The provided traversal has a mutating step and thus is not read only"


class _Filters:
    """The filters a traversal's strategies ask for, applied to every (child) traversal."""

    def __init__(self) -> None:
        self.vertex: list[Bytecode] = []
        self.edge: list[Bytecode] = []
        self.write_properties: list[tuple[str, Any]] = []
        self.productive_by = False
        self.read_only = False
        self.check_adjacent = True

    @property
    def active(self) -> bool:
        return bool(self.vertex or self.edge or self.write_properties or self.productive_by or self.read_only)


def apply_strategies(bytecode: Bytecode) -> Bytecode:
    """The traversal without withStrategies/withoutStrategies, its steps rewritten to mean the same."""
    filters = _Filters()
    kept = []
    for name, *args in bytecode.source_instructions:
        if name == "withoutStrategies":
            continue
        if name == "withStrategies":
            for strategy in args:
                _configure(filters, strategy)
            continue
        kept.append([name, *args])
    if len(kept) == len(bytecode.source_instructions):
        return bytecode
    rewritten = Bytecode()
    rewritten.source_instructions = kept
    rewritten.step_instructions = _rewrite(bytecode.step_instructions, filters) if filters.active \
        else bytecode.step_instructions
    if filters.read_only and _writes(rewritten):
        raise UnsupportedTraversal(READ_ONLY_MESSAGE)
    return rewritten


def _configure(filters: _Filters, strategy: Any) -> None:
    if not isinstance(strategy, TraversalStrategy):
        raise UnsupportedTraversal("withStrategies() takes strategies")
    name, config = strategy.strategy_name, strategy.configuration or {}
    if name == "OptionsStrategy":
        return
    if name == "ReadOnlyStrategy":
        filters.read_only = True
    elif name == "ProductiveByStrategy":
        filters.productive_by = True
    elif name == "SubgraphStrategy":
        _subgraph(filters, config)
    elif name == "PartitionStrategy":
        _partition(filters, config)
    else:
        raise UnsupportedTraversal(f"strategy {str(name)[:60]!r} is not supported by this server (supported: "
                                   "SubgraphStrategy, PartitionStrategy, ReadOnlyStrategy, ProductiveByStrategy)")


def _subgraph(filters: _Filters, config: dict[str, Any]) -> None:
    for key, target in (("vertices", filters.vertex), ("edges", filters.edge)):
        value = config.get(key)
        if value is not None:
            target.append(_bytecode_of(value, f"SubgraphStrategy {key}"))
    if config.get("checkAdjacentVertices") is False:
        filters.check_adjacent = False
    if config.get("vertexProperties") is not None:
        raise UnsupportedTraversal("SubgraphStrategy vertexProperties is not supported by this server")


def _partition(filters: _Filters, config: dict[str, Any]) -> None:
    key = config.get("partitionKey")
    if not isinstance(key, str):
        raise UnsupportedTraversal("PartitionStrategy needs a partitionKey")
    read = config.get("readPartitions")
    if read is not None:
        partitions = sorted(read) if isinstance(read, (set, frozenset)) else list(read)
        has = Bytecode()
        has.add_step("has", key, P("within", partitions))
        filters.vertex.append(has)
        filters.edge.append(has)
    if config.get("writePartition") is not None:
        filters.write_properties.append((key, config["writePartition"]))


def _bytecode_of(value: Any, what: str) -> Bytecode:
    if isinstance(value, Traversal):
        return value.bytecode
    if isinstance(value, Bytecode):
        return value
    raise UnsupportedTraversal(f"{what} must be a traversal")


def _rewrite(steps: list[list[Any]], filters: _Filters) -> list[list[Any]]:
    out: list[list[Any]] = []
    pending_write: list[list[Any]] = []
    for name, *args in steps:
        if pending_write and name not in MODULATORS_OF_ADD:
            out.extend(pending_write)
            pending_write = []
        args = [_child(arg, filters) for arg in args]
        if name == "by" and filters.productive_by:
            args = _productive(args)
        if filters.write_properties and (name in {"mergeV", "mergeE"} or (
                name == "option" and args and getattr(args[0], "name", "") == "on_create")):
            args = [_with_partition(a, filters) if isinstance(a, dict) else a for a in args]
        if name in ADJACENT and filters.edge:  # out(x) → outE(x).filter(edges).inV(): the edge must pass too
            edge_step, vertex_step = ADJACENT[name]
            out.append([edge_step, *args])
            out.extend(["filter", f] for f in filters.edge)
            out.append([vertex_step])
            out.extend(["filter", f] for f in filters.vertex)
            continue
        out.append([name, *args])
        if name in {"addV", "addE"} and filters.write_properties:
            pending_write = [["property", key, value] for key, value in filters.write_properties]
        elif name in VERTEX_STEPS and filters.vertex and name not in {"addV", "mergeV"}:
            out.extend(["filter", f] for f in filters.vertex)
        elif name in EDGE_STEPS and (filters.edge or filters.vertex) and name not in {"addE", "mergeE"}:
            out.extend(["filter", f] for f in filters.edge)
            if filters.check_adjacent:
                for end in ("inV", "outV"):
                    for f in filters.vertex:
                        out.append(["where", _then(end, f)])
    out.extend(pending_write)
    return out


def _with_partition(mapping: dict[Any, Any], filters: _Filters) -> dict[Any, Any]:
    """A merge map also names the write partition: it matches there and creates there."""
    return {**mapping, **dict(filters.write_properties)}


def _child(arg: Any, filters: _Filters) -> Any:
    bytecode = arg.bytecode if isinstance(arg, Traversal) else arg
    if isinstance(bytecode, Bytecode) and not bytecode.source_instructions:
        child = Bytecode()
        child.step_instructions = _rewrite(bytecode.step_instructions, filters)
        return child
    return arg


def _then(step: str, tail: Bytecode) -> Bytecode:
    chained = Bytecode()
    chained.step_instructions = [[step], *tail.step_instructions]
    return chained


def _productive(args: list[Any]) -> list[Any]:
    """by("key") / by(traversal) → by(coalesce(the traversal, constant(null)))."""
    if not args:
        return args
    first = args[0]
    if isinstance(first, str):
        values = Bytecode()
        values.add_step("values", first)
        first = values
    if isinstance(first, Bytecode):
        productive = Bytecode()
        fallback = Bytecode()
        fallback.add_step("constant", None)
        productive.add_step("coalesce", first, fallback)
        return [productive, *args[1:]]
    return args


def _writes(bytecode: Bytecode) -> bool:
    for name, *args in bytecode.source_instructions + bytecode.step_instructions:
        if name in WRITE_STEPS:
            return True
        if any(isinstance(a, Bytecode) and _writes(a) for a in args):
            return True
    return False


def without_selects_of(bytecode: Bytecode, label: str) -> Bytecode:
    """select() of a label the engine found declared nowhere selects nothing in TinkerPop (the engine
    refuses the script instead): each select() naming it becomes limit(0)."""
    rewritten = Bytecode()
    rewritten.source_instructions = bytecode.source_instructions
    rewritten.step_instructions = _without_select(bytecode.step_instructions, label)
    return rewritten


def _select_keys(args: list[Any]) -> list[str]:
    keys = args[1:] if args and not isinstance(args[0], str) and hasattr(args[0], "name") else args
    return [k for k in keys if isinstance(k, str)]


def _without_select(steps: list[list[Any]], label: str) -> list[list[Any]]:
    out = []
    for name, *args in steps:
        if name == "select" and label in _select_keys(args):
            out.append(["limit", 0])
            continue
        rewritten_args = []
        for arg in args:
            child = arg.bytecode if isinstance(arg, Traversal) else arg
            if isinstance(child, Bytecode) and not child.source_instructions:
                copy = Bytecode()
                copy.step_instructions = _without_select(child.step_instructions, label)
                rewritten_args.append(copy)
            else:
                rewritten_args.append(arg)
        out.append([name, *rewritten_args])
    return out
