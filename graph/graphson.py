"""GraphSON 3.0 and 2.0 for graphserver: requests in, responses out, as TinkerPop's drivers speak them.

gremlinpython ships the client half (it writes bytecode and reads results); a server needs the other
half: reading bytecode, predicates, tokens and bindings, and writing traversers, elements and the
engine's own vertices and edges. The readers here are strict: a value tagged with a type this
server does not know is refused (gremlinpython's reader would pass it on as a plain map), lambdas
are refused, and token members are looked up by name in their enum, never created.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from typing import Any

import graphersal
from gremlin_python.process.traversal import (
    DT,
    Barrier,
    Binding,
    Bytecode,
    Cardinality,
    Column,
    Direction,
    Merge,
    Operator,
    Order,
    P,
    Pick,
    Pop,
    Scope,
    T,
    TextP,
    TraversalStrategy,
)
from gremlin_python.structure.graph import Edge, Path, Vertex
from gremlin_python.structure.io import graphsonV2d0, graphsonV3d0

from graph.embedded import to_gremlin
from graph.errors import UnsupportedTraversal

GRAPHSON_V3 = "application/vnd.gremlin-v3.0+json"
GRAPHSON_V2 = "application/vnd.gremlin-v2.0+json"
# the untyped variants Gremlin Server also registers under these names
GRAPHSON_ALIASES = {GRAPHSON_V3: 3, GRAPHSON_V3 + ";types=true": 3, "application/json": 3,
                    GRAPHSON_V2: 2, GRAPHSON_V2 + ";types=true": 2}
MAX_DEPTH = 64
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
ENUMS: dict[str, type[Enum]] = {"T": T, "Order": Order, "Scope": Scope, "Column": Column, "Pop": Pop,
                                "Merge": Merge, "Direction": Direction, "Operator": Operator, "Pick": Pick,
                                "Barrier": Barrier, "Cardinality": Cardinality, "DT": DT}


def token(enum_name: str, java_name: Any) -> Enum:
    """`Pop.all` is gremlinpython's `Pop.all_`, `Merge.onCreate` its `Merge.on_create`."""
    enum = ENUMS.get(enum_name)
    if enum is None or not isinstance(java_name, str):
        raise UnsupportedTraversal(f"token type {enum_name!r} is not supported")
    snake = "".join("_" + c.lower() if c.isupper() else c for c in java_name)
    for candidate in (java_name, java_name + "_", snake, snake + "_"):
        member = enum.__members__.get(candidate)
        if member is not None:
            return member
    raise UnsupportedTraversal(f"{enum_name}.{java_name[:40]!r} is not a Gremlin token")


class _Depth:
    """Nesting guard: a hostile request must not exhaust the interpreter's stack."""

    def __init__(self) -> None:
        self.level = 0


class StrictReader:
    """Turns typed GraphSON into Python values; shared by 3.0 and 2.0 (they differ in collections)."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.depth = _Depth()
        self.readers: dict[str, Callable[[Any], Any]] = {
            "g:Int32": _int, "g:Int64": _int, "gx:BigInteger": _int, "gx:Int16": _int, "gx:Byte": _int,
            "g:Float": _float, "g:Double": _float, "gx:BigDecimal": _decimal,
            "g:UUID": lambda v: uuid.UUID(str(v)), "g:Date": _date, "g:Timestamp": _date,
            "gx:OffsetDateTime": _offset_datetime,
            "g:List": self._list, "g:Set": self._list, "g:Map": self._map,
            "g:Bytecode": self._bytecode, "g:P": self._predicate, "g:TextP": self._predicate,
            "g:Binding": self._binding, "g:Lambda": _lambda, "g:Class": str,
            "g:Traverser": self._traverser, "g:Vertex": self._vertex, "g:Edge": self._edge,
        }
        for name in ENUMS:
            self.readers[f"g:{name}"] = _token_reader(name)

    def read(self, value: Any) -> Any:
        self.depth.level += 1
        try:
            if self.depth.level > MAX_DEPTH:
                raise UnsupportedTraversal(f"values are nested more than {MAX_DEPTH} levels deep")
            return self._read(value)
        finally:
            self.depth.level -= 1

    def _read(self, value: Any) -> Any:
        if isinstance(value, dict):
            if "@type" in value:
                type_name = value["@type"]
                reader = self.readers.get(type_name) if isinstance(type_name, str) else None
                if reader is not None:
                    return reader(value.get("@value"))
                if isinstance(type_name, str) and type_name.endswith("Strategy"):
                    return self._strategy(type_name, value.get("@value"))
                raise UnsupportedTraversal(f"GraphSON type {str(type_name)[:60]!r} is not supported")
            return {self._key(k): self.read(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.read(v) for v in value]
        return value

    def _key(self, key: Any) -> Any:
        return key

    def _list(self, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise UnsupportedTraversal("g:List needs a JSON array")
        return [self.read(v) for v in value]

    def _map(self, value: Any) -> dict[Any, Any]:
        if self.version == 2 or not isinstance(value, list):
            if isinstance(value, dict):
                return {k: self.read(v) for k, v in value.items()}
            raise UnsupportedTraversal("g:Map needs a JSON array of keys and values")
        if len(value) % 2:
            raise UnsupportedTraversal("g:Map needs an even number of keys and values")
        result: dict[Any, Any] = {}
        for i in range(0, len(value), 2):
            key = self.read(value[i])
            if isinstance(key, (dict, list)):
                raise UnsupportedTraversal("map keys must be strings, numbers or tokens")
            result[key] = self.read(value[i + 1])
        return result

    def _bytecode(self, value: Any) -> Bytecode:
        if not isinstance(value, dict):
            raise UnsupportedTraversal("g:Bytecode needs a JSON object with 'step' and 'source'")
        bytecode = Bytecode()
        for key, target in (("step", bytecode.step_instructions), ("source", bytecode.source_instructions)):
            for instruction in value.get(key) or []:
                if not isinstance(instruction, list) or not instruction or not isinstance(instruction[0], str):
                    raise UnsupportedTraversal("an instruction is a JSON array: a name, then its arguments")
                target.append([instruction[0], *(self.read(arg) for arg in instruction[1:])])
        return bytecode

    def _predicate(self, value: Any) -> P:
        if not isinstance(value, dict) or not isinstance(value.get("predicate"), str):
            raise UnsupportedTraversal("a predicate needs 'predicate' and 'value'")
        operator, argument = value["predicate"], self.read(value.get("value"))
        kind = TextP if operator in _TEXT_OPERATORS else P
        if operator in {"and", "or"}:
            if not isinstance(argument, list) or len(argument) != 2:
                raise UnsupportedTraversal(f"P.{operator}() joins two predicates")
            return kind(operator, argument[0], argument[1])
        if operator in {"between", "inside", "outside"}:
            if not isinstance(argument, list) or len(argument) != 2:
                raise UnsupportedTraversal(f"P.{operator}() needs two values")
            return P(operator, argument[0], argument[1])
        if operator in {"within", "without"}:
            return P(operator, argument if isinstance(argument, list) else [argument])
        return kind(operator, argument)

    def _binding(self, value: Any) -> Binding:
        if not isinstance(value, dict):
            raise UnsupportedTraversal("g:Binding needs 'key' and 'value'")
        return Binding(str(value.get("key")), self.read(value.get("value")))

    def _vertex(self, value: Any) -> Vertex:
        """An element argument (V(v), from(v)): only its id and label matter."""
        if not isinstance(value, dict):
            raise UnsupportedTraversal("g:Vertex needs 'id' and 'label'")
        return Vertex(self.read(value.get("id")), str(value.get("label") or "vertex"))

    def _edge(self, value: Any) -> Edge:
        if not isinstance(value, dict):
            raise UnsupportedTraversal("g:Edge needs 'id', 'label', 'outV' and 'inV'")
        return Edge(self.read(value.get("id")), Vertex(self.read(value.get("outV"))), str(value.get("label") or "edge"),
                    Vertex(self.read(value.get("inV"))))

    def _traverser(self, value: Any) -> Any:
        return self.read(value.get("value")) if isinstance(value, dict) else None

    def _strategy(self, type_name: str, value: Any) -> TraversalStrategy:
        name = type_name.split(":", 1)[-1]
        configuration = self.read(value or {})
        return TraversalStrategy(name, dict(configuration) if isinstance(configuration, dict) else {})


def _token_reader(enum_name: str) -> Callable[[Any], Any]:
    return lambda value: token(enum_name, value)


_TEXT_OPERATORS = {"containing", "notContaining", "startingWith", "notStartingWith", "endingWith",
                   "notEndingWith", "regex", "notRegex"}


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise UnsupportedTraversal(f"an integer was expected, got {type(value).__name__}")
    return int(value)


def _float(value: Any) -> float:
    if isinstance(value, str):
        if value in {"NaN", "Infinity", "-Infinity"}:
            return float(value.replace("Infinity", "inf"))
        raise UnsupportedTraversal(f"a number was expected, got {value[:20]!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnsupportedTraversal(f"a number was expected, got {type(value).__name__}")
    return float(value)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UnsupportedTraversal("gx:BigDecimal needs a number")
    return Decimal(str(value))


def _date(value: Any) -> Any:
    import datetime

    return datetime.datetime.fromtimestamp(_int(value) / 1000, tz=datetime.UTC)


def _offset_datetime(value: Any) -> Any:
    import datetime

    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _lambda(value: Any) -> Any:
    raise UnsupportedTraversal("lambdas are not portable Gremlin and are refused")


# ---------------------------------------------------------------- writing


def _engine_element(obj: Any, writer: Any) -> Any:
    return writer.to_dict(to_gremlin(obj))


def _writer_v3() -> graphsonV3d0.GraphSONWriter:
    writer = graphsonV3d0.GraphSONWriter()
    writer.serializers[int] = _IntV3
    writer.serializers[bool] = _Bool
    for kind in (graphersal.Vertex, graphersal.Edge):
        writer.serializers[kind] = _EngineElementV3
    writer.serializers[Path] = _PathIO
    return writer


def _writer_v2() -> graphsonV2d0.GraphSONWriter:
    writer = graphsonV2d0.GraphSONWriter()
    writer.serializers[dict] = _MapV2
    writer.serializers[int] = _IntV2
    writer.serializers[bool] = _Bool
    for kind in (graphersal.Vertex, graphersal.Edge):
        writer.serializers[kind] = _EngineElementV2
    writer.serializers[Path] = _PathIO
    return writer


class _IntV3(graphsonV3d0._GraphSONTypeIO):
    @classmethod
    def dictify(cls, n: int, writer: Any) -> Any:
        name = "g:Int32" if INT32_MIN <= n <= INT32_MAX else "g:Int64" if -(2**63) <= n < 2**63 else "gx:BigInteger"
        return {"@type": name, "@value": n if name != "gx:BigInteger" else str(n)}


class _IntV2(_IntV3):
    pass


class _MapV2(graphsonV3d0._GraphSONTypeIO):
    """GraphSON 2.0 maps are JSON objects: keys are written as text (a token by its Java name)."""

    @classmethod
    def dictify(cls, mapping: dict[Any, Any], writer: Any) -> Any:
        return {_text_key(k): writer.to_dict(v) for k, v in mapping.items()}


def _text_key(key: Any) -> str:
    if isinstance(key, Enum):
        return key.name.rstrip("_")
    return key if isinstance(key, str) else json.dumps(key, default=str)


class _PathIO(graphsonV3d0._GraphSONTypeIO):
    """g:Path: its labels (a set per step) and its objects, as TinkerPop writes it."""

    @classmethod
    def dictify(cls, path: Path, writer: Any) -> Any:
        return {"@type": "g:Path", "@value": {"labels": writer.to_dict([set(labels) for labels in path.labels]),
                                               "objects": writer.to_dict(list(path.objects))}}


class _Bool(graphsonV3d0._GraphSONTypeIO):
    @classmethod
    def dictify(cls, value: bool, writer: Any) -> Any:
        return value


class _EngineElementV3(graphsonV3d0._GraphSONTypeIO):
    @classmethod
    def dictify(cls, obj: Any, writer: Any) -> Any:
        return _engine_element(obj, writer)


class _EngineElementV2(_EngineElementV3):
    pass


class GraphSONCodec:
    """One GraphSON version's request reader and response writer (graph.server picks one per request)."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.mime_type = GRAPHSON_V3 if version == 3 else GRAPHSON_V2
        self.writer = _writer_v3() if version == 3 else _writer_v2()

    def decode(self, text: bytes | str) -> dict[str, Any]:
        """The request as a dict: requestId (UUID), op, processor, args."""
        message = json.loads(text)
        if not isinstance(message, dict):
            raise UnsupportedTraversal("a request is a JSON object")
        reader = StrictReader(self.version)
        args = reader.read(message.get("args") or {})
        if not isinstance(args, dict):
            raise UnsupportedTraversal("'args' must be a map")
        request_id = message.get("requestId")
        if isinstance(request_id, dict):
            request_id = request_id.get("@value")
        return {"requestId": uuid.UUID(str(request_id)), "op": str(message.get("op") or ""),
                "processor": str(message.get("processor") or ""), "args": args}

    def encode(self, request_id: uuid.UUID | None, status: int, message: str | None, data: Any,
               attributes: dict[str, Any]) -> str:
        payload = {
            "requestId": str(request_id) if request_id is not None else None,
            "status": {"message": message or "", "code": status, "attributes": self.writer.to_dict(attributes)},
            "result": {"data": None if data is None else self.writer.to_dict(data),
                       "meta": self.writer.to_dict({})},
        }
        return json.dumps(payload, separators=(",", ":"), allow_nan=False, default=_refuse)


def _refuse(value: Any) -> Any:
    raise TypeError(f"values of type {type(value).__name__} cannot be written as GraphSON")
