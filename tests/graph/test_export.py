"""Neptune bulk-loader CSV from a small hand-built graph, read back line by line."""
from __future__ import annotations

from io import StringIO
from pathlib import Path

import boto3
import pytest
from django.core.management import CommandError, call_command
from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import T
from moto import mock_aws

import graph
from graph.export import export_bulk_csv, format_value, value_type, write_bulk_csv


def _build(g) -> None:  # type: ignore[no-untyped-def]
    """Two customers, an identifier, two events and a milestone, with typed properties."""
    (g.add_v("customer").property(T.id, "customer:c1").property("customer_id", "c1")
     .property("first_seen", 1700000000000).property("attributes", '{"segment": "retail, premium"}').iterate())
    g.add_v("customer").property(T.id, "customer:c2").property("customer_id", "c2").iterate()
    (g.add_v("identifier").property(T.id, "identifier:phone:+61412345678").property("kind", "phone")
     .property("value", "+61412345678").iterate())
    (g.add_v("event").property(T.id, "event:e1").property("type", "call").property("ts", 1700000000000)
     .property("score", 0.25).property("resolved", True).property("note", 'said "hi"\nthen left').iterate())
    (g.add_v("event").property(T.id, "event:e2").property("type", "web").property("ts", 1700000060000)
     .property("score", 2).property("resolved", False).iterate())
    g.add_v("milestone").property(T.id, "milestone:applied").property("name", "Applied").iterate()
    edges = [("customer:c1", "has_identifier", "identifier:phone:+61412345678", {"rule": "phone", "first_seen": 5}),
             ("customer:c1", "performed", "event:e1", {"ts": 1700000000000}),
             ("customer:c1", "performed", "event:e2", {"ts": 1700000060000}),
             ("event:e1", "next", "event:e2", {"gap_ms": 60000}),
             ("customer:c1", "reached", "milestone:applied", {"ts": 1700000060000, "event_id": "e2"}),
             ("customer:c2", "merged_into", "customer:c1", {})]
    for number, (out_id, label, in_id, props) in enumerate(edges, start=1):
        traversal = g.V(out_id).add_e(label).to(__.V(in_id)).property(T.id, f"x{number}")
        for key, value in props.items():
            traversal = traversal.property(key, value)
        traversal.iterate()


def test_export_writes_typed_vertex_and_edge_csv(g, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # given a small journey graph
    _build(g)
    # when it is exported in pages of two elements
    summary = export_bulk_csv(tmp_path / "out", g=g, page_size=2)
    # then every vertex and edge is a row with a typed header, sorted by id
    assert (summary.vertices, summary.edges) == (6, 6)
    assert summary.vertices_path.read_text(encoding="utf-8") == (
        "~id,~label,attributes:String,customer_id:String,first_seen:Long,kind:String,name:String,"
        "note:String,resolved:Bool,score:Double,ts:Long,type:String,value:String\n"
        'customer:c1,customer,"{""segment"": ""retail, premium""}",c1,1700000000000,,,,,,,,\n'
        "customer:c2,customer,,c2,,,,,,,,,\n"
        'event:e1,event,,,,,,"said ""hi""\nthen left",true,0.25,1700000000000,call,\n'
        "event:e2,event,,,,,,,false,2.0,1700000060000,web,\n"
        "identifier:phone:+61412345678,identifier,,,,phone,,,,,,,+61412345678\n"
        "milestone:applied,milestone,,,,,Applied,,,,,,\n")
    assert summary.edges_path.read_text(encoding="utf-8") == (
        "~id,~from,~to,~label,event_id:String,first_seen:Long,gap_ms:Long,rule:String,ts:Long\n"
        "x1,customer:c1,identifier:phone:+61412345678,has_identifier,,5,,phone,\n"
        "x2,customer:c1,event:e1,performed,,,,,1700000000000\n"
        "x3,customer:c1,event:e2,performed,,,,,1700000060000\n"
        "x4,event:e1,event:e2,next,,,60000,,\n"
        "x5,customer:c1,milestone:applied,reached,e2,,,,1700000060000\n"
        "x6,customer:c2,customer:c1,merged_into,,,,,\n")


def test_an_empty_graph_gives_header_only_files(g, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    summary = export_bulk_csv(tmp_path, g=g)
    assert (summary.vertices, summary.edges) == (0, 0)
    assert summary.vertices_path.read_text() == "~id,~label\n"
    assert summary.edges_path.read_text() == "~id,~from,~to,~label\n"


@pytest.mark.parametrize(("values", "header", "cells"), [
    ([1, 2.5], "p:Double", ["1.0", "2.5"]),
    ([True, 1], "p:String", ["true", "1"]),
    ([["a;b", "c"], ["d"]], "p:String[]", ["a\\;b;c", "d"]),
    ([float("nan"), float("inf")], "p:Double", ["NaN", "Infinity"]),
])
def test_mixed_and_list_values_get_one_column_type(tmp_path: Path, values: list[object], header: str,
                                                   cells: list[str]) -> None:
    rows = [{"~id": f"v{i}", "~label": "thing", "p": value} for i, value in enumerate(values)]
    path = tmp_path / "v.csv"
    assert write_bulk_csv(rows, path, ("~id", "~label")) == len(values)
    lines = path.read_text().splitlines()
    assert lines[0] == f"~id,~label,{header}"
    assert [line.split(",", 2)[2] for line in lines[1:]] == cells


def test_property_names_the_loader_cannot_read_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"property 'a:b' on 'v1' cannot be a bulk-loader column"):
        write_bulk_csv([{"~id": "v1", "~label": "x", "a:b": 1}], tmp_path / "v.csv", ("~id", "~label"))


def test_value_types() -> None:
    assert [value_type(v) for v in (True, 3, 0.5, "s", [1, 2], [])] == [
        "Bool", "Long", "Double", "String", "Long[]", "String[]"]
    assert format_value({"b": 1, "a": 2}, "String") == '{"a": 2, "b": 1}'


def test_export_command_writes_files_and_uploads_them(g, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # given a graph and a bucket (moto, in process)
    g.add_v("milestone").property(T.id, "milestone:applied").property("name", "Applied").iterate()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTEXPORT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="neptune-load")
        out = StringIO()
        # when the command runs with --s3
        call_command("export_neptune", str(tmp_path / "export"), "--s3", "s3://neptune-load/run1", stdout=out)
        # then both files are written locally and uploaded under the prefix
        body = s3.get_object(Bucket="neptune-load", Key="run1/vertices.csv")["Body"].read().decode()
        edges = s3.get_object(Bucket="neptune-load", Key="run1/edges.csv")["Body"].read().decode()
    assert body == "~id,~label,name:String\nmilestone:applied,milestone,Applied\n"
    assert edges == "~id,~from,~to,~label\n"
    assert (tmp_path / "export" / "vertices.csv").read_text() == body
    assert out.getvalue().splitlines() == [
        f"1 vertices -> {tmp_path / 'export' / 'vertices.csv'}",
        f"0 edges -> {tmp_path / 'export' / 'edges.csv'}",
        "uploaded s3://neptune-load/run1/vertices.csv",
        "uploaded s3://neptune-load/run1/edges.csv",
    ]


def test_export_command_refuses_a_non_s3_upload_target(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"--s3 must be an s3://bucket/prefix URL, not 'bucket/prefix'"):
        call_command("export_neptune", str(tmp_path), "--s3", "bucket/prefix")


def test_export_through_the_gremlin_server_matches_the_embedded_one(g, gremlin_server_url: str,  # type: ignore[no-untyped-def]
                                                                    tmp_path: Path) -> None:
    # given the same graph in the embedded store and behind the Gremlin server (elementMap keys are
    # T/Direction tokens there, plain strings in process)
    connection = graph.connect(gremlin_server_url)
    try:
        _build(g)
        _build(connection.g)
        # when both are exported
        local = export_bulk_csv(tmp_path / "local", g=g, page_size=4)
        remote = export_bulk_csv(tmp_path / "remote", g=connection.g, page_size=4)
    finally:
        connection.close()
    # then the files are identical
    assert remote.vertices_path.read_text() == local.vertices_path.read_text()
    assert remote.edges_path.read_text() == local.edges_path.read_text()
