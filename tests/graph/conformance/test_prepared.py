"""Prepared reads (graph.prepared) answer exactly as the traversal they are built from, on every backend."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gremlin_python.process.graph_traversal import GraphTraversal, GraphTraversalSource, __
from gremlin_python.process.traversal import Order, P

import graph
from graph import prepared
from tests.graph.conformance.journey_graph import T0, plain, seed


@pytest.fixture
def seeded(backend_url: str, settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings.GRAPH_URL = backend_url
    graph.reset_connection()
    seed(graph.get_g())
    yield backend_url
    graph.reset_connection()


def latest(g: GraphTraversalSource, with_window: bool, *, vid: Any, limit: Any, since: Any = None) -> GraphTraversal:
    events = g.V(vid).out_e("performed")
    if with_window:
        events = events.has("ts", P.gte(since))
    return events.order().by("ts", Order.desc).limit(limit).in_v().id_()


def many(g: GraphTraversalSource, *, vids: Any) -> GraphTraversal:
    return g.inject(0).project("ids").by(__.V(vids).id_().order().fold())


def test_a_prepared_read_binds_new_values_into_the_same_shape(seeded: str) -> None:
    assert prepared.run(latest, (False,), vid="customer:c1", limit=2) == ["event:e3", "event:e2"]
    assert prepared.run(latest, (False,), vid="customer:c1", limit=1) == ["event:e3"]
    assert prepared.run(latest, (True,), vid="customer:c1", limit=5, since=T0 + 60_000) == ["event:e3", "event:e2"]
    assert prepared.run(latest, (False,), vid="customer:nobody", limit=2) == []


def test_a_list_of_ids_is_one_value(seeded: str) -> None:
    assert prepared.run(many, (), vids=["event:e2", "customer:c1", "nope"]) == [
        {"ids": ["customer:c1", "event:e2"]}]
    assert prepared.run(many, (), vids=["event:e1"]) == [{"ids": ["event:e1"]}]


def test_the_embedded_store_builds_and_translates_each_shape_once(settings) -> None:  # type: ignore[no-untyped-def]
    # given an embedded store and a read that notes each time it is built
    settings.GRAPH_URL = "embedded://memory"
    graph.reset_connection()
    seed(graph.get_g())
    built: list[Any] = []

    def counted(g: GraphTraversalSource, *, vid: Any) -> GraphTraversal:
        built.append(vid)
        return g.V(vid).values("customer_id")

    # when it runs for three callers
    answers = [prepared.run(counted, (), vid=vid) for vid in ("customer:c1", "customer:c2", "customer:c9")]
    graph.reset_connection()
    # then each got its own answer from the one translation
    assert answers == [["c1"], ["c2"], []]
    assert len(built) == 1


def calls(g: GraphTraversalSource, *, vid: Any, limit: Any) -> GraphTraversal:
    history = __.out_e("performed").order().by("ts", Order.desc).limit(limit).in_v().value_map("type", "ts").fold()
    return g.V(vid).project("c", "history").by("customer_id").by(history)


def test_a_values_read_answers_as_the_same_read_through_run(seeded: str) -> None:
    # given a read whose results are maps of property values (no vertex or edge in them)
    # when it runs through run_values and through run
    fast = prepared.run_values(calls, (), vid="customer:c1", limit=2)
    # then both answer the same, on every backend
    assert fast == prepared.run(calls, (), vid="customer:c1", limit=2)
    assert [h["type"] for h in plain(fast)[0]["history"]] == [["chat"], ["call"]]


def labelled(g: GraphTraversalSource, *, vid: Any) -> GraphTraversal:
    return g.V(vid).out("performed").has("type", P.within(["call", 'say "hi"', "Zoë\\n"])).values("type").order()


def test_constants_that_need_no_escaping_are_written_into_the_script(settings) -> None:  # type: ignore[no-untyped-def]
    # given the embedded store and a read with plain constants and constants that need escaping
    settings.GRAPH_URL = "embedded://memory"
    graph.reset_connection()
    seed(graph.get_g())
    # when it runs
    answer = prepared.run(labelled, (), vid="customer:c1")
    script = next(p for (build, _, _), p in prepared._prepared.items() if build is labelled)
    graph.reset_connection()
    # then the plain labels are literals in the text, the value is still bound, and the answer is right
    assert answer == ["call"]
    assert '"performed"' in script.text and '"type"' in script.text and "q_vid" in script.text
    assert len(script.constants) == 1 and "parse_json(" in script.text  # the list with quotes stays bound


def test_a_prepared_read_runs_while_another_thread_holds_the_stores_lock_and_cannot_write(settings) -> None:  # type: ignore[no-untyped-def]
    import threading

    from graph.errors import GraphQueryError

    # given the embedded store, its process lock held by a writer in another thread
    settings.GRAPH_URL = "embedded://memory"
    graph.reset_connection()
    seed(graph.get_g())
    store = graph.get_connection().embedded_store
    held, done = threading.Event(), threading.Event()

    def writer() -> None:
        with store._lock:
            held.set()
            done.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    assert held.wait(10)
    answers: list[Any] = []
    reader = threading.Thread(target=lambda: answers.append(prepared.run(latest, (False,), vid="customer:c1", limit=1)))
    try:
        # when a caller's read runs, then it answers while the lock is still held
        reader.start()
        reader.join(10)
        assert not reader.is_alive() and answers == [["event:e3"]]
    finally:
        done.set()
        thread.join()
        reader.join()

    # and a prepared traversal that writes is refused by the read-only policy
    def adds(g: GraphTraversalSource, *, name: Any) -> GraphTraversal:
        return g.add_v("customer").property("customer_id", name)

    with pytest.raises(GraphQueryError):
        prepared.run(adds, (), name="c9")
    assert graph.get_g().V().has("customer", "customer_id", "c9").count().next() == 0
    graph.reset_connection()
