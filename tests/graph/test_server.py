"""The project's Gremlin server, driven by gremlinpython's own DriverRemoteConnection, unchanged."""
from __future__ import annotations

import struct
import threading
import uuid
from collections.abc import Iterator

import pytest
from gremlin_python.driver.client import Client
from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.driver.protocol import GremlinServerError
from gremlin_python.driver.request import RequestMessage
from gremlin_python.driver.serializer import GraphBinarySerializersV1
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import GraphTraversalSource, __
from gremlin_python.process.traversal import Bytecode, Direction, Merge, Order, P, T
from gremlin_python.statics import long
from gremlin_python.structure.graph import Edge, Vertex
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

import graph
from graph.server import BackgroundServer, Status

EVENTS = [
    {T.id: "event:e1", T.label: "event", "type": "login", "channel": "web", "ts": long(1_700_000_000_000)},
    {T.id: "event:e2", T.label: "event", "type": "call", "channel": "voice", "ts": long(1_700_000_060_000)},
    {T.id: "event:e3", T.label: "event", "type": "chat", "channel": "chat", "ts": long(1_700_000_120_000)},
]


@pytest.fixture
def remote(gremlin_server_url: str) -> Iterator[DriverRemoteConnection]:
    connection = DriverRemoteConnection(gremlin_server_url, "g")
    yield connection
    connection.close()


@pytest.fixture
def g(remote: DriverRemoteConnection) -> GraphTraversalSource:
    return traversal().with_remote(remote)


def seed(g: GraphTraversalSource) -> None:
    customers = [{T.id: "customer:c1", T.label: "customer", "customer_id": "c1"}]
    g.inject(customers + EVENTS).unfold().merge_v().iterate()
    performed = [{T.label: "performed", Direction.OUT: "customer:c1", Direction.IN: e[T.id], "ts": e["ts"]}
                 for e in EVENTS]
    g.inject(performed).unfold().merge_e().iterate()


def test_merge_batches_through_inject_unfold_are_idempotent(g: GraphTraversalSource) -> None:
    # given a batch of vertices and edges merged once
    seed(g)
    # when the same batch is merged again with onCreate/onMatch options
    rows = [{"k": {T.id: "customer:c1", T.label: "customer"}, "c": {"customer_id": "c1", "seen": 1},
             "m": {"seen": 2}}]
    ids = (g.inject(rows).unfold().as_("r").merge_v(__.select("k"))
           .option(Merge.on_create, __.select("r").select("c"))
           .option(Merge.on_match, __.select("r").select("m")).id_().to_list())
    seed(g)
    # then nothing is duplicated and the match branch ran
    assert ids == ["customer:c1"]
    assert g.V().count().next() == 4
    assert g.E().has_label("performed").count().next() == 3
    assert g.V("customer:c1").values("seen").to_list() == [2]


def test_reads_come_back_as_gremlinpython_types(g: GraphTraversalSource) -> None:
    # given a customer with three events
    seed(g)
    # when reading them back in the shapes the project uses
    vertex = g.V("customer:c1").next()
    edge = g.V("customer:c1").out_e("performed").has("ts", long(1_700_000_060_000)).next()
    latest = (g.V("customer:c1").out_e("performed").order().by("ts", Order.desc).limit(2).in_v()
              .element_map("type", "ts").to_list())
    by_label = g.V().group_count().by(T.label).next()
    channels = g.V().has("event", "channel", P.within(["web", "chat"])).values("channel").order().to_list()
    path = g.V("customer:c1").out_e("performed").has("ts", long(1_700_000_000_000)).in_v().path().next()
    # then vertices and edges are gremlinpython structure objects and values keep their types
    assert isinstance(vertex, Vertex) and (vertex.id, vertex.label) == ("customer:c1", "customer")
    assert isinstance(edge, Edge) and (edge.outV.id, edge.inV.id) == ("customer:c1", "event:e2")
    assert latest == [{T.id: "event:e3", T.label: "event", "type": "chat", "ts": 1_700_000_120_000},
                      {T.id: "event:e2", T.label: "event", "type": "call", "ts": 1_700_000_060_000}]
    assert by_label == {"customer": 1, "event": 3}
    assert channels == ["chat", "web"]
    assert [getattr(step, "id", None) for step in path] == ["customer:c1", path[1].id, "event:e1"]


def test_iterate_returns_nothing_and_applies_the_write(g: GraphTraversalSource) -> None:
    # when a write is run with iterate() (a trailing none() step)
    g.add_v("milestone").property(T.id, "milestone:applied").property("name", "Applied").iterate()
    # then it was applied
    assert g.V("milestone:applied").values("name").to_list() == ["Applied"]


def test_empty_results_arrive_as_an_empty_list(g: GraphTraversalSource) -> None:
    assert g.V("customer:nobody").to_list() == []


def test_a_result_larger_than_a_batch_arrives_complete(g: GraphTraversalSource) -> None:
    # when 300 values are read with a batch size of 64 (five frames)
    values = g.with_("batchSize", 64).inject(list(range(300))).unfold().to_list()
    # then every value arrives once, in order
    assert values == list(range(300))


def test_large_results_are_sent_as_partial_content_frames(gremlin_server: BackgroundServer) -> None:
    # given gremlinpython's own request encoding of a 300-value traversal with batchSize 64
    codec = GraphBinarySerializersV1()
    bytecode = traversal().with_remote(None).inject(list(range(300))).unfold().bytecode  # type: ignore[arg-type]
    request_id = uuid.uuid4()
    message = codec.serialize_message(request_id, RequestMessage(
        "traversal", "bytecode", {"gremlin": bytecode, "aliases": {"g": "g"}, "batchSize": 64}))
    # when the server answers it
    frames = [codec.deserialize_message(f) for f in gremlin_server.server.respond(message)]
    # then four 206 frames of 64 precede a final 200 frame of 44, all for the same request
    assert [f["status"]["code"] for f in frames] == [206, 206, 206, 206, 200]
    assert [len(f["result"]["data"]) for f in frames] == [64, 64, 64, 64, 44]
    assert {f["requestId"] for f in frames} == {str(request_id)}
    assert [t.object for f in frames for t in f["result"]["data"]] == list(range(300))
    assert {t.bulk for f in frames for t in f["result"]["data"]} == {1}


def test_a_traversal_the_engine_refuses_is_a_server_error_with_its_reason(g: GraphTraversalSource) -> None:
    with pytest.raises(GremlinServerError) as caught:
        g.inject(1).math("_ +* 2").to_list()
    assert caught.value.status_code == Status.SERVER_ERROR_EVALUATION
    assert "math" in str(caught.value)


def test_a_step_off_the_allow_list_is_refused_by_name(g: GraphTraversalSource) -> None:
    unknown = g.V()
    unknown.bytecode.add_step("shortestPaths")
    with pytest.raises(GremlinServerError) as caught:
        unknown.to_list()
    assert caught.value.status_code == Status.INVALID_REQUEST_ARGUMENTS
    assert "unknown step 'shortestPaths': not on this server's list of allowed steps" in str(caught.value)


def test_olap_steps_are_refused_with_tinkerpops_text(g: GraphTraversalSource) -> None:
    with pytest.raises(GremlinServerError) as caught:
        g.V().shortest_path().to_list()
    assert caught.value.status_code == Status.INVALID_REQUEST_ARGUMENTS
    assert "shortestPath(): VertexComputing steps must be executed with a GraphComputer" in str(caught.value)


def test_non_portable_traversals_are_refused_as_invalid_arguments(g: GraphTraversalSource) -> None:
    with pytest.raises(GremlinServerError) as lambda_error:
        g.V().map(lambda: "it.get()").to_list()
    with pytest.raises(GremlinServerError) as match_error:
        g.V().match(__.as_("a").out().as_("b")).to_list()
    assert lambda_error.value.status_code == Status.INVALID_REQUEST_ARGUMENTS
    assert "lambdas are not portable" in str(lambda_error.value)
    assert "match() is not portable" in str(match_error.value)


def test_connection_survives_errors(g: GraphTraversalSource) -> None:
    with pytest.raises(GremlinServerError):
        g.V().shortest_path().to_list()
    assert g.inject(1).to_list() == [1]


def test_only_the_g_traversal_source_is_served(gremlin_server_url: str) -> None:
    remote = DriverRemoteConnection(gremlin_server_url, "gmodern")
    try:
        with pytest.raises(GremlinServerError, match="serves only 'g'"):
            traversal().with_remote(remote).V().to_list()
    finally:
        remote.close()


def test_scripts_run_as_one_traversal_with_bindings(gremlin_server_url: str, g: GraphTraversalSource) -> None:
    # given a customer with three events
    seed(g)
    client = Client(gremlin_server_url, "g")
    try:
        # when a notebook sends a script with a binding
        channels = client.submit("g.V(cid).out().has('channel', P.within(['web', 'voice'])).values('channel')"
                                 ".order().by(Order.desc)", {"cid": "customer:c1"}).all().result()
        # then it runs like the same bytecode
        assert channels == ["web", "voice"]
        # and a script that is more than one traversal is refused before it reaches the engine
        with pytest.raises(GremlinServerError, match="unexpected ';' at column 13: a script holds one traversal"):
            client.submit("g.V().drop(); g.V()").all().result()
        with pytest.raises(GremlinServerError, match="unknown step 'evalScript'"):
            client.submit("g.V().evalScript('x')").all().result()
    finally:
        client.close()
    assert g.V().count().next() == 4


def test_other_serializers_get_a_malformed_request_answer(gremlin_server_url: str) -> None:
    # given a request announcing Gryo, which this server does not speak
    request = bytes([25]) + b"application/vnd.gryo-v3.0" + b"\x00\x01"
    # when it is sent over a plain WebSocket
    with connect(gremlin_server_url) as websocket:
        websocket.send(request)
        answer = GraphBinarySerializersV1().deserialize_message(websocket.recv())
    # then the server names the serializers it speaks
    assert answer["status"]["code"] == Status.MALFORMED_REQUEST
    assert answer["status"]["message"] == (
        "serializer 'application/vnd.gryo-v3.0' is not supported; use application/vnd.graphbinary-v1.0, "
        "application/vnd.gremlin-v3.0+json or application/vnd.gremlin-v2.0+json")


def test_unknown_paths_are_not_found(gremlin_server_url: str) -> None:
    with pytest.raises(InvalidStatus, match="404"):
        connect(gremlin_server_url.replace("/gremlin", "/other"))


def test_epoch_ms_needs_the_project_connection_not_bare_gremlinpython(gremlin_server_url: str,
                                                                      g: GraphTraversalSource) -> None:
    # given: gremlinpython alone writes every Python int as a 32-bit Int and fails before sending
    with pytest.raises(struct.error):
        g.inject(1_700_000_000_000).to_list()
    # when the same traversal goes through the project's ws:// connection
    connection = graph.connect(gremlin_server_url)
    try:
        values = connection.g.inject(1_700_000_000_000, 7).to_list()
    finally:
        connection.close()
    # then the value arrives as a Long and comes back intact
    assert values == [1_700_000_000_000, 7]


def test_concurrent_clients_share_one_store(gremlin_server_url: str) -> None:
    # given four clients writing 50 vertices each at the same time
    def write(worker: int) -> None:
        remote = DriverRemoteConnection(gremlin_server_url, "g")
        try:
            rows = [{T.id: f"event:{worker}-{i}", T.label: "event", "n": i} for i in range(50)]
            for start in range(0, 50, 10):
                traversal().with_remote(remote).inject(rows[start:start + 10]).unfold().merge_v().iterate()
        finally:
            remote.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # then every write landed
    reader = DriverRemoteConnection(gremlin_server_url, "g")
    try:
        assert traversal().with_remote(reader).V().has_label("event").count().next() == 200
    finally:
        reader.close()


def test_session_close_and_authentication_ops(gremlin_server: BackgroundServer) -> None:
    # given gremlinpython's encodings of a session close and of an authentication attempt
    codec = GraphBinarySerializersV1()
    close = codec.serialize_message(uuid.uuid4(), RequestMessage("session", "close", {"session": str(uuid.uuid4())}))
    auth = codec.serialize_message(uuid.uuid4(), RequestMessage("traversal", "authentication", {"sasl": "AGEAYg=="}))
    # when the server answers them
    closed = [codec.deserialize_message(f) for f in gremlin_server.server.respond(close)]
    refused = [codec.deserialize_message(f) for f in gremlin_server.server.respond(auth)]
    # then close is acknowledged without content and authentication is explained as unnecessary
    assert [(f["status"]["code"], f["result"]["data"]) for f in closed] == [(204, None)]
    assert [(f["status"]["code"], f["status"]["message"]) for f in refused] == [
        (499, "this server does not use authentication")]


def test_a_bad_batch_size_is_refused_before_running(g: GraphTraversalSource) -> None:
    with pytest.raises(GremlinServerError, match="batchSize must be a positive integer, got 0"):
        g.with_("batchSize", 0).add_v("probe").iterate()
    assert g.V().has_label("probe").count().next() == 0


def test_a_client_cannot_reach_the_server_files(remote: DriverRemoteConnection, tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "dump.json"
    bytecode = Bytecode()
    bytecode.add_source("export_graphson", str(target))

    with pytest.raises(GremlinServerError) as caught:
        list(remote.submit(bytecode))

    assert caught.value.status_code == Status.INVALID_REQUEST_ARGUMENTS
    assert "unknown source step 'export_graphson'" in str(caught.value)
    assert not target.exists()


def test_the_projects_connection_reads_every_batch_and_the_servers_refusals(gremlin_server_url: str) -> None:
    # given the project's own ws:// connection (graph.remote.WireRemoteConnection) to graphserver
    connection = graph.connect(gremlin_server_url)
    try:
        # when a result spans three frames (two 206 batches of 64, then the last), with options
        values = connection.g.with_("evaluationTimeout", 5_000).inject(list(range(150))).unfold().to_list()
        # and when the server refuses a traversal
        bad = connection.g.inject(1)
        bad.bytecode.add_step("nosuchstep")
        with pytest.raises(graph.GraphQueryError, match="unknown step 'nosuchstep'"):
            bad.to_list()
        after = connection.g.inject("still open").to_list()
    finally:
        connection.close()
    # then every value arrives in order, the refusal carries the server's reason and the connection goes on
    assert values == list(range(150))
    assert after == ["still open"]
