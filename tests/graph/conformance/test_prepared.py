"""Prepared reads (graph.prepared) answer exactly as the traversal they are built from, on every backend."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gremlin_python.process.graph_traversal import GraphTraversal, GraphTraversalSource, __
from gremlin_python.process.traversal import Order, P

import graph
from graph import prepared
from tests.graph.conformance.journey_graph import T0, seed


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
