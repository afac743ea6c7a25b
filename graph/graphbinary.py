"""GraphBinary v1 pieces that gremlinpython's own reader and writer lack, shared by client and server.

gremlinpython 3.7 writes every Python `int` as a 32-bit Int, so an epoch-millisecond timestamp fails
to serialise before it leaves the client; the writer here sends Int when the value fits and Long
otherwise, as the Java driver does. Its reader cannot read predicates, strategies, classes or lambdas
(it never receives them), which a server must: the readers here fill those gaps. Class names start
with an underscore so gremlinpython's type registry stays untouched.
"""
from __future__ import annotations

from typing import Any

from gremlin_python.driver.serializer import GraphBinarySerializersV1
from gremlin_python.process.traversal import P, TextP, TraversalStrategy
from gremlin_python.structure.io.graphbinaryV1 import (
    DataType,
    GraphBinaryReader,
    GraphBinaryWriter,
    IntIO,
    LongIO,
    _GraphBinaryTypeIO,
)

from graph.errors import UnsupportedTraversal

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
RANGE_OPERATORS = {"between", "inside", "outside"}
LIST_OPERATORS = {"within", "without"}


class _IntOrLongIO(_GraphBinaryTypeIO):
    """Python ints as Int when they fit in 32 bits, as Long otherwise (never a client-side overflow)."""

    @classmethod
    def dictify(cls, obj: int, writer: Any, to_extend: bytearray, as_value: bool = False,
                nullable: bool = True) -> bytearray:
        io = IntIO if INT32_MIN <= obj <= INT32_MAX else LongIO
        return io.dictify(obj, writer, to_extend, as_value, nullable)


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


def graph_binary_writer() -> GraphBinaryWriter:
    return GraphBinaryWriter(serializer_map={int: _IntOrLongIO})


def graph_binary_reader() -> GraphBinaryReader:
    return GraphBinaryReader(deserializer_map={
        DataType.p: _PReader, DataType.textp: _TextPReader, DataType.clazz: _ClassReader,
        DataType.traversalstrategy: _StrategyReader, DataType.lambda_: _LambdaReader,
    })


def graph_binary_serializer() -> GraphBinarySerializersV1:
    """The message serializer the project's `ws://` connections use (gremlinpython's, int-safe)."""
    return GraphBinarySerializersV1(reader=graph_binary_reader(), writer=graph_binary_writer())


__all__ = ["graph_binary_reader", "graph_binary_serializer", "graph_binary_writer"]
