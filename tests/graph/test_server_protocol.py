"""graphserver's protocol: serializers per request, several requests per connection, timeouts, limits."""
from __future__ import annotations

import datetime
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from gremlin_python.driver.client import Client
from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.driver.protocol import GremlinServerError
from gremlin_python.driver.request import RequestMessage
from gremlin_python.driver.serializer import (
    GraphBinarySerializersV1,
    GraphSONSerializersV2d0,
    GraphSONSerializersV3d0,
)
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import GraphTraversal, GraphTraversalSource, __
from gremlin_python.process.traversal import Column, Order, P, Pop, Scope, T
from gremlin_python.structure.graph import Edge, Vertex
from websockets.sync.client import connect

import graph
from graph.embedded import EmbeddedStore
from graph.graphbinary import graph_binary_serializer
from graph.server import BackgroundServer, Status
from tests.graph.server_fixture import clear_store

TIMEOUT_MS = 500
SERIALIZERS = {"graphbinary": graph_binary_serializer, "graphson3": GraphSONSerializersV3d0,
               "graphson2": GraphSONSerializersV2d0}


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    store = EmbeddedStore("memory")
    running = BackgroundServer(store, evaluation_timeout_ms=TIMEOUT_MS, max_results=1000, batch_size=10).start()
    yield running
    running.stop()
    store.close()


@pytest.fixture
def url(server: BackgroundServer) -> str:
    clear_store(server.server.store)
    return server.url


@pytest.fixture(params=sorted(SERIALIZERS))
def g(request: pytest.FixtureRequest, url: str) -> Iterator[GraphTraversalSource]:
    remote = DriverRemoteConnection(url, "g", message_serializer=SERIALIZERS[request.param]())
    yield traversal().with_remote(remote)
    remote.close()


def modern(g: GraphTraversalSource) -> None:
    """TinkerPop's "modern" toy graph."""
    people = [("1", "marko", 29), ("2", "vadas", 27), ("4", "josh", 32), ("6", "peter", 35)]
    for vid, name, age in people:
        g.add_v("person").property(T.id, vid).property("name", name).property("age", age).iterate()
    for vid, name in [("3", "lop"), ("5", "ripple")]:
        g.add_v("software").property(T.id, vid).property("name", name).property("lang", "java").iterate()
    for eid, out_v, label, in_v, weight in [("7", "1", "knows", "2", 0.5), ("8", "1", "knows", "4", 1.0),
                                            ("9", "1", "created", "3", 0.4), ("10", "4", "created", "5", 1.0),
                                            ("11", "4", "created", "3", 0.4), ("12", "6", "created", "3", 0.2)]:
        g.V(out_v).add_e(label).to(__.V(in_v)).property(T.id, eid).property("weight", weight).iterate()


def test_every_serializer_answers_the_same_traversals(g: GraphTraversalSource) -> None:
    # given the modern graph written through the serializer under test
    modern(g)
    # when it is read back in the shapes clients use
    marko = g.V("1").next()
    knows = g.V("1").out_e("knows").order().by("weight").next()
    names = g.V().has("person", "age", P.gt(28).and_(P.lt(40))).order().by("age", Order.desc).values("name").to_list()
    grouped = g.V().group().by(T.label).by(__.count()).next()
    selected = g.V("1").as_("a").out("knows").as_("a").select(Pop.all_, "a").to_list()
    total = g.V().values("age").sum_(Scope.global_).next()
    keys = g.V("1").value_map("name").select(Column.keys).next()
    # then every serializer gives gremlinpython the same values and types
    assert isinstance(marko, Vertex) and (marko.id, marko.label) == ("1", "person")
    assert isinstance(knows, Edge) and (knows.outV.id, knows.inV.id, knows.label) == ("1", "2", "knows")
    assert names == ["peter", "josh", "marko"]
    assert grouped == {"person": 4, "software": 2}
    assert sorted([v.id for v in pair] for pair in selected) == [["1", "2"], ["1", "4"]]
    assert total == 123
    assert list(keys) == ["name"]


def test_special_values_round_trip(g: GraphTraversalSource) -> None:
    # given values TinkerPop types carry beyond JSON: non-finite doubles and large integers
    values = g.inject(float("inf"), float("-inf"), 2**40, -7, 1.5, True, "text").to_list()
    nan = g.inject(float("nan")).next()
    # then they come back as sent
    assert values == [float("inf"), float("-inf"), 2**40, -7, 1.5, True, "text"]
    assert nan != nan


def test_graphson_uuid_datetime_and_bigdecimal_arguments(url: str) -> None:
    # given GraphSON carrying a UUID, a datetime and BigDecimals as traversal arguments
    remote = DriverRemoteConnection(url, "g", message_serializer=GraphSONSerializersV3d0())
    try:
        g = traversal().with_remote(remote)
        uid = uuid.UUID("c0ffee00-0000-4000-8000-000000000001")
        moment = datetime.datetime(2024, 5, 1, 9, 30, tzinfo=datetime.UTC)
        echoed = g.inject(uid).to_list()
        when = g.inject(moment).to_list()
        exact = g.inject(Decimal("1.25")).to_list()
        with pytest.raises(GremlinServerError, match=r"BigDecimal 0.1 cannot be held exactly by the graph store "
                                                     r"\(64-bit numbers\)"):
            g.inject(Decimal("0.1")).to_list()
    finally:
        remote.close()
    assert exact == [1.25]
    assert echoed == [uid]
    assert [w.replace(tzinfo=datetime.UTC) if w.tzinfo is None else w for w in when] == [moment]


def test_results_stream_in_batches_of_the_requested_size(server: BackgroundServer, url: str) -> None:
    # given gremlinpython's GraphSON 3 encoding of a 25-value traversal with batchSize 10
    codec = GraphSONSerializersV3d0()
    bytecode = traversal().with_remote(None).inject(list(range(25))).unfold().bytecode  # type: ignore[arg-type]
    request_id = str(uuid.uuid4())
    message = codec.serialize_message(request_id, RequestMessage(
        "traversal", "bytecode", {"gremlin": bytecode, "aliases": {"g": "g"}, "batchSize": 10}))
    # when it is sent over a WebSocket
    with connect(url) as websocket:
        websocket.send(message)
        frames = [codec.deserialize_message(websocket.recv()) for _ in range(3)]
    # then two 206 frames precede the final 200, each with its batch
    assert [f["status"]["code"] for f in frames] == [206, 206, 200]
    assert [[t.object for t in f["result"]["data"]] for f in frames] == [
        list(range(10)), list(range(10, 20)), list(range(20, 25))]


def runaway(g: GraphTraversalSource) -> GraphTraversal:
    """Minutes of work on the modern graph: every walk of 16 steps, kept apart by their paths."""
    return g.V().repeat(__.both()).times(16).path().dedup().count()


def test_requests_on_one_connection_are_answered_side_by_side(url: str) -> None:
    # given a slow traversal and a quick one sent one after the other on the same connection
    writer = DriverRemoteConnection(url, "g")
    modern(traversal().with_remote(writer))
    writer.close()
    codec = GraphBinarySerializersV1()
    slow_id, quick_id = uuid.uuid4(), uuid.uuid4()
    source = traversal().with_remote(None)  # type: ignore[arg-type]
    slow = runaway(source).bytecode
    quick = source.inject("quick").bytecode
    with connect(url) as websocket:
        websocket.send(codec.serialize_message(slow_id, RequestMessage("traversal", "bytecode", {"gremlin": slow})))
        websocket.send(codec.serialize_message(quick_id, RequestMessage("traversal", "bytecode", {"gremlin": quick})))
        answers = [codec.deserialize_message(websocket.recv()) for _ in range(2)]
    # then the quick one is answered first and the slow one is stopped at the evaluation timeout
    assert [a["requestId"] for a in answers] == [str(quick_id), str(slow_id)]
    assert answers[1]["status"]["code"] == Status.SERVER_TIMEOUT
    assert f"exceeded evaluationTimeout of {TIMEOUT_MS} ms" in answers[1]["status"]["message"]


def runaway_write(g: GraphTraversalSource) -> GraphTraversal:
    """The runaway with a write at its end (stopped before it writes anything)."""
    return runaway(g).as_("n").add_v("probe").property("n", __.select("n"))


def read_while_running_away(url: str, make_runaway: Any) -> tuple[dict[str, Any], list[float]]:
    """One client runs `make_runaway` on the modern graph while another reads a vertex's neighbours over
    and over through the project's connection (as a web worker reads): the runaway's outcome, and the
    milliseconds of every read that finished before the runaway was answered."""
    writer = DriverRemoteConnection(url, "g")
    modern(traversal().with_remote(writer))
    writer.close()
    outcome: dict[str, Any] = {}
    sent = threading.Event()

    def run_away() -> None:
        remote = DriverRemoteConnection(url, "g")
        try:
            outcome["sent"] = time.perf_counter()
            sent.set()
            make_runaway(traversal().with_remote(remote)).to_list()
        except GremlinServerError as exc:
            outcome["status"] = exc.status_code
        finally:
            outcome["answered"] = time.perf_counter()
            remote.close()

    reader = graph.connect(url)
    reads: list[tuple[float, float, list[Any]]] = []
    try:
        reader.g.V("1").values("name").to_list()  # connected before the runaway starts
        thread = threading.Thread(target=run_away)
        thread.start()
        assert sent.wait(10)
        while thread.is_alive() and len(reads) < 10_000:
            begun = time.perf_counter()
            names = reader.g.V("1").out("knows").order().by("name").values("name").to_list()
            reads.append((begun, time.perf_counter(), names))
        thread.join(30)
        outcome["probes"] = reader.g.V().has_label("probe").count().next()
    finally:
        reader.close()
    assert {tuple(names) for _, _, names in reads} == {("josh", "vadas")}
    return outcome, [(end - begun) * 1000 for begun, end, _ in reads if end < outcome["answered"]]


def test_a_runaway_read_never_delays_other_clients_reads(url: str) -> None:
    # given one client running a read that would take minutes, while another client reads
    outcome, during = read_while_running_away(url, runaway)
    # then the runaway is stopped at its timeout, and every read made meanwhile came back in a small
    # fraction of that timeout (reads run side by side in the engine)
    assert outcome["status"] == Status.SERVER_TIMEOUT
    assert outcome["answered"] - outcome["sent"] >= TIMEOUT_MS / 1000
    assert len(during) >= 10, f"only {len(during)} reads finished while the runaway ran"
    assert max(during) < TIMEOUT_MS / 2, f"slowest read {max(during):.0f} ms of {len(during)}"


def test_a_runaway_write_delays_other_clients_reads_at_most_by_its_timeout(url: str) -> None:
    # given one client running a traversal that writes after minutes of work, while another client reads
    outcome, during = read_while_running_away(url, runaway_write)
    # then the engine lets no reader in while a writing traversal runs (docs/ARCHITECTURE.md), but the
    # runaway is stopped at its timeout without writing, so no read waits longer than that
    assert outcome["status"] == Status.SERVER_TIMEOUT
    assert outcome["probes"] == 0
    assert during and max(during) < TIMEOUT_MS + 1_000, f"slowest read {max(during):.0f} ms"


def test_a_request_may_ask_for_a_shorter_timeout_but_not_a_longer_one(g: GraphTraversalSource) -> None:
    modern(g)
    with pytest.raises(GremlinServerError, match="exceeded evaluationTimeout of 50 ms"):
        runaway(g.with_("evaluationTimeout", 50)).next()
    with pytest.raises(GremlinServerError, match=f"exceeded evaluationTimeout of {TIMEOUT_MS} ms"):
        runaway(g.with_("evaluationTimeout", 600_000)).next()


def test_results_beyond_the_limit_are_refused_with_advice(g: GraphTraversalSource) -> None:
    with pytest.raises(GremlinServerError, match="the result holds 1001 values, more than this server's limit of "
                                                 r"1000; narrow the traversal with limit\(\) or range\(\)"):
        g.inject(list(range(1001))).unfold().to_list()
    assert len(g.inject(list(range(1000))).unfold().to_list()) == 1000


def test_sessions_are_refused_not_ignored(url: str) -> None:
    # given a transaction as gremlinpython opens it (a session-bound connection)
    remote = DriverRemoteConnection(url, "g")
    g = traversal().with_remote(remote)
    tx = g.tx()
    gtx = tx.begin()
    try:
        # when a write is sent inside it, then it is refused with the reason and nothing is written
        with pytest.raises(GremlinServerError, match=r"sessions \(processor 'session', what g.tx\(\) sends\) are "
                                                     "not supported"):
            gtx.add_v("probe").iterate()
    finally:
        tx.close()
        remote.close()
    reader = DriverRemoteConnection(url, "g")
    try:
        assert traversal().with_remote(reader).V().has_label("probe").count().next() == 0
    finally:
        reader.close()


@pytest.mark.parametrize("serializer", sorted(SERIALIZERS))
def test_scripts_through_every_serializer(url: str, serializer: str) -> None:
    client = Client(url, "g", message_serializer=SERIALIZERS[serializer]())
    try:
        values = client.submit("g.inject(1, 2.5d, 'x', [a: 1], NaN).fold()").all().result()
        with pytest.raises(GremlinServerError, match="unknown name 'System'"):
            client.submit("g.inject(System.exit(0))").all().result()
    finally:
        client.close()
    assert values[0][:4] == [1, 2.5, "x", {"a": 1}]
    assert values[0][4] != values[0][4]


def test_maps_keyed_by_numbers_arrive_and_writes_never_run_twice(g: GraphTraversalSource) -> None:
    # given the modern graph
    modern(g)
    # when a read groups by a number, then the map arrives keyed by numbers (GraphSON 2.0 writes map
    # keys as JSON object keys, so as text, as TinkerPop's own GraphSON 2.0 writer does)
    counts = g.V().has_label("person").group_count().by("age").next()
    assert {int(k): v for k, v in counts.items()} == {29: 1, 27: 1, 32: 1, 35: 1}
    # and a write whose answer is such a map is refused, not run a second time
    with pytest.raises(GremlinServerError, match="ScriptMap"):
        g.add_v("probe").property("n", 1).group_count().by("n").next()
    assert g.V().has_label("probe").count().next() == 1
