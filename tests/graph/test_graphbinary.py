"""The project's GraphBinary pieces write and read exactly what gremlinpython's own writer and reader do."""
from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from gremlin_python.driver.serializer import GraphBinarySerializersV1
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import Merge, Order, P, T, TextP, Traverser
from gremlin_python.statics import long
from gremlin_python.structure.graph import Edge, Vertex
from gremlin_python.structure.io.graphbinaryV1 import DataType, GraphBinaryReader, GraphBinaryWriter
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.errors import UnsupportedTraversal
from graph.graphbinary import (
    graph_binary_reader,
    graph_binary_serializer,
    graph_binary_writer,
    read_value,
    write_value,
)
from graph.server import GraphBinaryCodec

scalars = (st.text() | st.integers(-(2**63), 2**63 - 1) | st.booleans() | st.none()
           | st.floats(allow_nan=False))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@settings(max_examples=80, deadline=None)
@given(values)
def test_fast_writer_writes_the_bytes_gremlinpython_writes(value: Any) -> None:
    out, expected = bytearray(), bytearray()
    write_value(value, out, graph_binary_writer())
    graph_binary_writer().to_dict(value, expected)
    assert out == expected


@settings(max_examples=80, deadline=None)
@given(values)
def test_fast_reader_reads_what_gremlinpython_reads(value: Any) -> None:
    data = bytes(graph_binary_writer().to_dict([Traverser(value, 3), value]))
    decoded, end = read_value(data, 0, graph_binary_reader())
    assert decoded == GraphBinaryReader().read_object(bytearray(data))
    assert end == len(data)


def test_other_types_go_through_gremlinpython() -> None:
    # given values the fast paths do not handle themselves, mixed with ones they do
    edge = Edge("e1", Vertex("customer:1", "customer"), "performed", Vertex("event:1", "event"))
    value = {"v": Vertex("customer:1", "customer"), "e": edge, "s": {"a"}, "u": uuid.UUID(int=5), "n": [1, None]}
    out = bytearray()
    # when written and read back
    write_value(value, out, graph_binary_writer())
    decoded, _ = read_value(bytes(out), 0, graph_binary_reader())
    # then they are the same objects gremlinpython makes
    assert bytes(out) == bytes(GraphBinaryWriter().to_dict(value))
    assert decoded == value
    assert (decoded["e"].outV.id, decoded["e"].inV.id) == ("customer:1", "event:1")


def test_ints_beyond_32_bits_travel_as_long() -> None:
    writer = graph_binary_writer()
    assert bytes(writer.to_dict(1_700_000_000_000)) == bytes(GraphBinaryWriter().to_dict(long(1_700_000_000_000)))
    assert bytes(writer.to_dict(7))[0] == DataType.int.value
    assert bytes(writer.to_dict(-(2**31)))[0] == DataType.int.value
    assert bytes(writer.to_dict(2**31))[0] == DataType.long.value


def test_predicates_are_read_back() -> None:
    reader, writer = graph_binary_reader(), GraphBinaryWriter()
    predicates = [P.within(["a", "b"]), P.within("a"), P.between(1, 5), P.gte(3), P.gt(1).and_(P.lt(9)),
                  TextP.containing("loan")]
    decoded = [reader.read_object(writer.to_dict(p)) for p in predicates]
    assert [(type(p).__name__, p.operator, p.value, p.other) for p in decoded[:4] + decoded[5:]] == [
        ("P", "within", ["a", "b"], None), ("P", "within", ["a"], None), ("P", "between", 1, 5),
        ("P", "gte", 3, None), ("TextP", "containing", "loan", None)]
    assert (decoded[4].operator, decoded[4].value.operator, decoded[4].other.operator) == ("and", "gt", "lt")


def test_project_serializer_reads_responses_like_gremlinpython() -> None:
    # given server responses: results, no content, an error with attributes
    codec, request_id = GraphBinaryCodec(), uuid.uuid4()
    frames = [
        codec.encode_response(request_id, 200, data=[Traverser({"id": "event:1", "ts": 1_700_000_000_000}, 1)],
                              attributes={"host": "127.0.0.1:8182"}),
        codec.encode_response(request_id, 204),
        codec.encode_response(request_id, 597, "Function not found", attributes={"exceptions": ["x"]}),
    ]
    # when both serializers read them
    ours = [graph_binary_serializer().deserialize_message(f) for f in frames]
    theirs = [GraphBinarySerializersV1().deserialize_message(f) for f in frames]
    # then they agree
    assert ours == theirs
    assert ours[0]["result"]["data"][0].object == {"id": "event:1", "ts": 1_700_000_000_000}


def test_lambdas_are_refused_while_reading() -> None:
    with pytest.raises(UnsupportedTraversal, match="lambdas are not portable"):
        graph_binary_reader().to_object(io.BytesIO(bytes([DataType.lambda_.value, 0x00])))


@settings(max_examples=60, deadline=None)
@given(values)
def test_fast_reader_reads_bytecode_like_the_project_reader(value: Any) -> None:
    # given traversals carrying arbitrary values, predicates, tokens and child traversals
    g = traversal().with_remote(None)  # type: ignore[arg-type]
    traversals = [
        g.inject([value]).unfold().as_("r").merge_v(__.select("k")).option(Merge.on_create, __.select("c")),
        g.V("customer:1").out_e("performed").order().by("ts", Order.desc).range_(0, 20).in_v().element_map(),
        g.V().has("ts", P.between(1, 1_700_000_000_000)).has(T.id, P.within(["a", "b"])).group_count().by(T.label),
        g.with_("batchSize", 64).V().has("name", TextP.containing("x")).values("name").none(),
    ]
    for t in traversals:
        data = bytes(graph_binary_writer().to_dict(t.bytecode))
        # when read by the fast path and by gremlinpython's reader with the project's additions
        fast, end = read_value(data, 0, graph_binary_reader())
        slow = graph_binary_reader().read_object(bytearray(data))
        # then both give the same bytecode
        assert fast == slow
        assert end == len(data)
