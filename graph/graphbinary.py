"""GraphBinary v1 pieces that gremlinpython's own reader and writer lack, shared by client and server.

gremlinpython 3.7 writes every Python `int` as a 32-bit Int, so an epoch-millisecond timestamp fails
to serialise before it leaves the client; the writer here sends Int when the value fits and Long
otherwise, as the Java driver does. Its reader cannot read predicates, strategies, classes or lambdas
(it never receives them), which a server must: the readers here fill those gaps. Class names start
with an underscore so gremlinpython's type registry stays untouched. Fast paths for the common value
types (below) cut the encoding and decoding cost of every read on both sides of the wire.
"""
from __future__ import annotations

import io
import struct
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from gremlin_python.driver.serializer import GraphBinarySerializersV1
from gremlin_python.process.traversal import Bytecode, Direction, P, T, TextP, TraversalStrategy, Traverser
from gremlin_python.structure.io.graphbinaryV1 import (
    DataType,
    GraphBinaryReader,
    GraphBinaryWriter,
    IntIO,
    LongIO,
    _GraphBinaryTypeIO,
)
from gremlin_python.structure.io.util import HashableDict

from graph.errors import UnsupportedTraversal

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_BIG_INTEGER_BYTES = 1024
RANGE_OPERATORS = {"between", "inside", "outside"}
LIST_OPERATORS = {"within", "without"}


class _IntOrLongIO(_GraphBinaryTypeIO):
    """Python ints as Int when they fit in 32 bits, as Long otherwise (never a client-side overflow)."""

    @classmethod
    def dictify(cls, obj: int, writer: Any, to_extend: bytearray, as_value: bool = False,
                nullable: bool = True) -> bytearray:
        codec = IntIO if INT32_MIN <= obj <= INT32_MAX else LongIO
        return codec.dictify(obj, writer, to_extend, as_value, nullable)


class _PReader(_GraphBinaryTypeIO):
    """P on the wire: operator name, then its arguments (a flattened list for within/without)."""

    predicate_type: type[P] = P

    @classmethod
    def objectify(cls, buff: Any, reader: GraphBinaryReader, nullable: bool = True) -> Any:
        return cls.is_null(buff, reader, cls._read, nullable)

    @classmethod
    def _read(cls, b: Any, r: GraphBinaryReader) -> P:
        operator = r.to_object(b, DataType.string, False)
        args = [r.read_object(b) for _ in range(cls.read_int(b))]
        if operator in LIST_OPERATORS:
            return cls.predicate_type(operator, args)
        if operator in {"and", "or"} or operator in RANGE_OPERATORS:
            if len(args) != 2:
                raise UnsupportedTraversal(f"predicate {operator}() needs two arguments, got {len(args)}")
            return cls.predicate_type(operator, args[0], args[1])
        if len(args) != 1:
            raise UnsupportedTraversal(f"predicate {operator}() needs one argument, got {len(args)}")
        return cls.predicate_type(operator, args[0])


class _TextPReader(_PReader):
    predicate_type = TextP


class _BigDecimalReader(_GraphBinaryTypeIO):
    """BigDecimal: an Int scale, then the unscaled value as a BigInteger (length, two's complement bytes).
    gremlinpython's own reader reads the scale as a typed value and fails."""

    @classmethod
    def objectify(cls, buff: Any, reader: GraphBinaryReader, nullable: bool = True) -> Any:
        return cls.is_null(buff, reader, cls._read, nullable)

    @classmethod
    def _read(cls, b: Any, r: GraphBinaryReader) -> Decimal:
        scale = _I32.unpack(b.read(4))[0]
        size = _I32.unpack(b.read(4))[0]
        if not 0 <= size <= MAX_BIG_INTEGER_BYTES:
            raise ValueError(f"a BigDecimal of {size} bytes is not accepted")
        unscaled = int.from_bytes(b.read(size), "big", signed=True)
        return Decimal(unscaled).scaleb(-scale)


class _ClassReader(_GraphBinaryTypeIO):
    @classmethod
    def objectify(cls, buff: Any, reader: GraphBinaryReader, nullable: bool = True) -> Any:
        return cls.is_null(buff, reader, lambda b, r: r.to_object(b, DataType.string, False), nullable)


class _StrategyReader(_GraphBinaryTypeIO):
    """A strategy arrives as its Java class name and a configuration map."""

    @classmethod
    def objectify(cls, buff: Any, reader: GraphBinaryReader, nullable: bool = True) -> Any:
        return cls.is_null(buff, reader, cls._read, nullable)

    @classmethod
    def _read(cls, b: Any, r: GraphBinaryReader) -> TraversalStrategy:
        fqcn = r.to_object(b, DataType.string, False)
        configuration = r.to_object(b, DataType.map, False)
        return TraversalStrategy(fqcn.rsplit(".", 1)[-1], dict(configuration), fqcn)


class _LambdaReader(_GraphBinaryTypeIO):
    @classmethod
    def objectify(cls, buff: Any, reader: GraphBinaryReader, nullable: bool = True) -> Any:
        raise UnsupportedTraversal("lambdas are not portable Gremlin and are refused")


class _TokenReader(_GraphBinaryTypeIO):
    """A token arrives as its Java name (`all`, `onCreate`); gremlinpython's reader looks up the snake
    case name and misses the members it spells with a trailing underscore (`Pop.all_`, `Scope.global_`)."""

    enum_name = ""

    @classmethod
    def objectify(cls, buff: Any, reader: GraphBinaryReader, nullable: bool = True) -> Any:
        from graph.graphson import token

        return cls.is_null(buff, reader, lambda b, r: token(cls.enum_name, r.to_object(b)), nullable)


def _token_reader(name: str) -> type[_TokenReader]:
    return type(f"_{name}Reader", (_TokenReader,), {"enum_name": name})


TOKEN_TYPES = {DataType.barrier: "Barrier", DataType.cardinality: "Cardinality", DataType.column: "Column",
               DataType.direction: "Direction", DataType.operator: "Operator", DataType.order: "Order",
               DataType.pick: "Pick", DataType.pop: "Pop", DataType.scope: "Scope", DataType.t: "T",
               DataType.merge: "Merge"}


def graph_binary_writer() -> GraphBinaryWriter:
    return GraphBinaryWriter(serializer_map={int: _IntOrLongIO})


def graph_binary_reader() -> GraphBinaryReader:
    readers: dict[DataType, type[_GraphBinaryTypeIO]] = {
        DataType.p: _PReader, DataType.textp: _TextPReader, DataType.clazz: _ClassReader,
        DataType.traversalstrategy: _StrategyReader, DataType.lambda_: _LambdaReader,
        DataType.bigdecimal: _BigDecimalReader,
    }
    readers.update({code: _token_reader(name) for code, name in TOKEN_TYPES.items()})
    return GraphBinaryReader(deserializer_map=readers)


def graph_binary_serializer() -> ProjectGraphBinarySerializer:
    """The message serializer the project's `ws://` connections use (gremlinpython's, int-safe)."""
    return ProjectGraphBinarySerializer(reader=graph_binary_reader(), writer=graph_binary_writer())




# ---------------------------------------------------------------- fast paths for results
#
# Every read through the server pays GraphBinary encoding on one side and decoding on the other;
# gremlinpython spends most of that in per-value dispatch. These functions handle the value types
# results are made of (strings, numbers, booleans, lists, maps, traversers) directly and hand
# anything else to gremlinpython's writer/reader, producing and accepting the same bytes.

_I32, _I64, _F64 = struct.Struct(">i"), struct.Struct(">q"), struct.Struct(">d")
_NULL = bytes([DataType.null.value, 0x01])
# the tokens element maps are keyed by (T.id, T.label, Direction.IN/OUT), fully qualified
_TOKENS = {token: bytes([code.value, 0x00, DataType.string.value, 0x00]) + _I32.pack(len(java)) + java.encode()
           for code, enum in ((DataType.t, T), (DataType.direction, Direction)) for token in enum
           for java in [{"id_": "id", "from_": "OUT", "to": "IN"}.get(token.name, token.name)]}
_TOKEN_BYTES = {id(token): data for token, data in _TOKENS.items()}
_HEAD = {name: bytes([getattr(DataType, name).value, 0x00]) for name in
         ("int", "long", "string", "double", "list", "map", "traverser", "boolean")}


# type codes as plain ints: reading an aenum member's `.value` costs about a microsecond per value
_STRING, _INT, _LONG, _DOUBLE, _BOOLEAN, _LIST, _MAP, _TRAVERSER, _NULL_CODE = (
    DataType.string.value, DataType.int.value, DataType.long.value, DataType.double.value, DataType.boolean.value,
    DataType.list.value, DataType.map.value, DataType.traverser.value, DataType.null.value)
_STRING_HEAD, _INT_HEAD, _LONG_HEAD, _DOUBLE_HEAD, _LIST_HEAD, _MAP_HEAD, _TRAVERSER_HEAD = (
    _HEAD["string"], _HEAD["int"], _HEAD["long"], _HEAD["double"], _HEAD["list"], _HEAD["map"], _HEAD["traverser"])
_TRUE, _FALSE = _HEAD["boolean"] + b"\x01", _HEAD["boolean"] + b"\x00"
_i32_pack, _i64_pack, _f64_pack = _I32.pack, _I64.pack, _F64.pack
# map keys repeat from row to row (property names): their encoded form is kept, up to a bound
MAX_CACHED_KEYS, MAX_CACHED_KEY_BYTES = 4096, 128
_KEY_BYTES: dict[str, bytes] = {}
_i32_from, _i64_from, _f64_from = _I32.unpack_from, _I64.unpack_from, _F64.unpack_from


def write_value(obj: Any, out: bytearray, writer: GraphBinaryWriter) -> None:
    """Append one fully qualified value to `out`."""
    kind = type(obj)
    if kind is str:
        data = obj.encode("utf-8")
        out += _STRING_HEAD
        out += _i32_pack(len(data))
        out += data
    elif kind is int:
        if INT32_MIN <= obj <= INT32_MAX:
            out += _INT_HEAD
            out += _i32_pack(obj)
        else:
            out += _LONG_HEAD
            out += _i64_pack(obj)
    elif kind is dict:
        out += _MAP_HEAD
        out += _i32_pack(len(obj))
        for key, value in obj.items():  # text keys and text values (most of a map) without a call
            if type(key) is str:
                encoded = _KEY_BYTES.get(key)
                if encoded is None:
                    data = key.encode("utf-8")
                    encoded = _STRING_HEAD + _i32_pack(len(data)) + data
                    if len(_KEY_BYTES) < MAX_CACHED_KEYS and len(data) <= MAX_CACHED_KEY_BYTES:
                        _KEY_BYTES[key] = encoded
                out += encoded
            else:
                write_value(key, out, writer)
            if type(value) is str:
                data = value.encode("utf-8")
                out += _STRING_HEAD
                out += _i32_pack(len(data))
                out += data
            else:
                write_value(value, out, writer)
    elif kind is list or kind is tuple:  # a tuple is a list used as a map key (group().by(fold()))
        out += _LIST_HEAD
        out += _i32_pack(len(obj))
        for item in obj:
            write_value(item, out, writer)
    elif kind is Traverser:
        out += _TRAVERSER_HEAD
        out += _i64_pack(obj.bulk)
        write_value(obj.object, out, writer)
    elif kind is float:
        out += _DOUBLE_HEAD
        out += _f64_pack(obj)
    elif kind is bool:
        out += _TRUE if obj else _FALSE
    elif obj is None:
        out += _NULL
    elif kind is T or kind is Direction:
        out += _TOKEN_BYTES[id(obj)]  # by identity: hashing an aenum member runs Python code
    else:
        writer.to_dict(obj, out)


def read_value(buf: bytes, pos: int, reader: GraphBinaryReader) -> tuple[Any, int]:
    """Read one fully qualified value at `pos`; returns it and the position after it. Text and
    numbers, the bulk of any result, are read here without a further call."""
    code = buf[pos]
    if code == _STRING:
        if buf[pos + 1]:
            return None, pos + 2
        size = _i32_from(buf, pos + 2)[0]
        end = pos + 6 + size
        if size < 0 or end > len(buf):
            raise ValueError(f"string of {size} bytes at offset {pos + 2} runs past the end of the message")
        return buf[pos + 6:end].decode("utf-8"), end
    if code == _NULL_CODE:
        return None, pos + 2
    reader_fn = _READERS.get(code)
    if reader_fn is None:
        return _read_slow(buf, pos, reader)
    if buf[pos + 1] == 0x01:  # value flag: null
        return None, pos + 2
    return reader_fn(buf, pos + 2, reader)


def _read_slow(buf: bytes, pos: int, reader: GraphBinaryReader) -> tuple[Any, int]:
    stream = io.BytesIO(buf)
    stream.seek(pos)
    value = reader.to_object(stream)
    return value, stream.tell()


def read_string(buf: bytes, pos: int, reader: GraphBinaryReader | None = None) -> tuple[str, int]:
    """A string value without type code or null flag (op names, instruction names)."""
    size = _i32_from(buf, pos)[0]
    if size < 0 or pos + 4 + size > len(buf):
        raise ValueError(f"string of {size} bytes at offset {pos} runs past the end of the message")
    return buf[pos + 4:pos + 4 + size].decode("utf-8"), pos + 4 + size


def _read_map(buf: bytes, pos: int, reader: GraphBinaryReader) -> tuple[Any, int]:
    """Text keys and text or integer values (most of an element map) are read inline."""
    size, pos = _i32_from(buf, pos)[0], pos + 4
    limit = len(buf)
    result = {}
    for _ in range(size):
        if buf[pos] == _STRING and not buf[pos + 1]:
            length = _i32_from(buf, pos + 2)[0]
            end = pos + 6 + length
            if length < 0 or end > limit:
                raise ValueError(f"string of {length} bytes at offset {pos + 2} runs past the end of the message")
            key: Any = buf[pos + 6:end].decode("utf-8")
            pos = end
        else:
            key, pos = read_value(buf, pos, reader)
            if type(key) is not str and type(key) is not int:
                key = HashableDict.of(key)
        code = buf[pos]
        if code == _STRING and not buf[pos + 1]:
            length = _i32_from(buf, pos + 2)[0]
            end = pos + 6 + length
            if length < 0 or end > limit:
                raise ValueError(f"string of {length} bytes at offset {pos + 2} runs past the end of the message")
            result[key] = buf[pos + 6:end].decode("utf-8")
            pos = end
        elif code == _LONG and not buf[pos + 1]:
            result[key] = _i64_from(buf, pos + 2)[0]
            pos += 10
        elif code == _INT and not buf[pos + 1]:
            result[key] = _i32_from(buf, pos + 2)[0]
            pos += 6
        else:
            result[key], pos = read_value(buf, pos, reader)
    return result, pos


def _read_token(enum: Any) -> Callable[[bytes, int, GraphBinaryReader], tuple[Any, int]]:
    """T and Direction tokens (element map keys) without gremlinpython's per-value dispatch."""
    members = {name: member for name, member in enum.__members__.items() if name not in {"id_", "from_", "to"}}

    def read(buf: bytes, pos: int, reader: GraphBinaryReader) -> tuple[Any, int]:
        if buf[pos] != _STRING or buf[pos + 1] != 0x00:
            return _read_slow(buf, pos - 2, reader)
        name, end = read_string(buf, pos + 2)
        member = members.get(name)
        if member is None:
            return _read_slow(buf, pos - 2, reader)
        return member, end

    return read


def _read_list(buf: bytes, pos: int, reader: GraphBinaryReader) -> tuple[Any, int]:
    size, pos = _i32_from(buf, pos)[0], pos + 4
    items = []
    for _ in range(size):
        item, pos = read_value(buf, pos, reader)
        items.append(item)
    return items, pos


def _read_traverser(buf: bytes, pos: int, reader: GraphBinaryReader) -> tuple[Any, int]:
    bulk = _i64_from(buf, pos)[0]
    value, pos = read_value(buf, pos + 8, reader)
    return Traverser(value, bulk=bulk), pos


def _read_bytecode(buf: bytes, pos: int, reader: GraphBinaryReader) -> tuple[Any, int]:
    """Step instructions, then source instructions: name, argument count, arguments."""
    bytecode = Bytecode()
    for instructions in (bytecode.step_instructions, bytecode.source_instructions):
        count, pos = _i32_from(buf, pos)[0], pos + 4
        for _ in range(count):
            name, pos = read_string(buf, pos, reader)
            instruction = [name]
            arity, pos = _i32_from(buf, pos)[0], pos + 4
            for _ in range(arity):
                arg, pos = read_value(buf, pos, reader)
                instruction.append(arg)
            instructions.append(instruction)
    return bytecode, pos


_READERS: dict[int, Callable[[bytes, int, GraphBinaryReader], tuple[Any, int]]] = {
    _INT: lambda b, p, r: (_i32_from(b, p)[0], p + 4),
    _LONG: lambda b, p, r: (_i64_from(b, p)[0], p + 8),
    _DOUBLE: lambda b, p, r: (_f64_from(b, p)[0], p + 8),
    _BOOLEAN: lambda b, p, r: (b[p] == 0x01, p + 1),
    _MAP: _read_map,
    _LIST: _read_list,
    _TRAVERSER: _read_traverser,
    DataType.bytecode.value: _read_bytecode,
    DataType.t.value: _read_token(T),
    DataType.direction.value: _read_token(Direction),
}


class ProjectGraphBinarySerializer(GraphBinarySerializersV1):
    """gremlinpython's serializer with the int-safe writer, the extra readers and fast result decoding."""

    def deserialize_message(self, message: Any) -> dict[str, Any]:
        if not isinstance(message, (bytes, bytearray)):
            return super().deserialize_message(message)  # base64 text from the HTTP transport
        buf, reader = bytes(message), self._graphbinary_reader
        pos = 1  # version
        request_id = None if buf[pos] == 0x01 else str(uuid.UUID(bytes=buf[pos + 1:pos + 17]))
        pos += 1 if request_id is None else 17
        status_code, pos = _I32.unpack_from(buf, pos)[0], pos + 4
        status_message, pos = (None, pos + 1) if buf[pos] == 0x01 else read_string(buf, pos + 1, reader)
        status_attributes, pos = _read_map(buf, pos, reader)
        meta, pos = _read_map(buf, pos, reader)
        data, _ = read_value(buf, pos, reader)
        return {"requestId": request_id,
                "status": {"code": status_code, "message": status_message, "attributes": status_attributes},
                "result": {"meta": meta, "data": data}}
