"""Pipelined bulk writes (`write_event_batches`): each batch is read and planned while the store
writes the one before in the engine's native bulk form, and the graph that results is exactly the
one that batch-by-batch Gremlin upserts give."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graph
from apps.customers import identity
from graph import bulk_load, journey_writes, journeys
from graph import schema as s
from graph.connection import get_connection, get_g, run_writes
from graph.errors import GraphQueryError
from graph.schema import EventRecord
from graph.write_plan import gremlin_writes


def event(event_id: str, ts: int, customer: str = "", phone: str = "") -> EventRecord:
    identifiers = (("phone", phone),) if phone else ()
    return EventRecord(event_id=event_id, type="t", channel="web", ts=ts, customer_id=customer, identifiers=identifiers)


def snapshot() -> tuple[list[Any], list[Any]]:
    """Every vertex with its properties and every edge by its ends and properties (edge ids are the
    store's own and differ between runs)."""
    vertices = sorted((m.pop("id"), sorted(m.items())) for m in get_g().V().value_map(True).to_list())
    edges = sorted((m.pop("label"), m.pop("OUT")["id"], m.pop("IN")["id"], m.pop("id") and sorted(m.items()))
                   for m in get_g().E().element_map().to_list())
    return vertices, edges


def pipelined(batches: list[list[EventRecord]]) -> list[s.WriteReport | None]:
    return [report for _, report in journey_writes.write_event_batches(batches, lambda b: b, identity.resolve)]


def one_by_one(batches: list[list[EventRecord]]) -> list[s.WriteReport | None]:
    """The reference: batch after batch, each plan written as the Gremlin upserts a remote store gets."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(journey_writes, "prepared_write", lambda plan: SimpleNamespace(
            run=lambda: run_writes(gremlin_writes(plan)), close=lambda: None))
        return [journeys.write_events(b, identity.resolve) if b else None for b in batches]


events = st.builds(
    event,
    event_id=st.sampled_from([f"e{i}" for i in range(30)]),
    ts=st.integers(min_value=1, max_value=40).map(lambda m: m * 60_000),
    customer=st.sampled_from(["", "c1", "c2", "c3"]),
    phone=st.sampled_from(["", "+61412000001", "+61412000002"]),
).filter(lambda e: bool(e.customer_id or e.identifiers))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(events, max_size=6), min_size=1, max_size=6))
def test_pipelined_native_batches_make_the_graph_and_reports_of_gremlin_upserts(batches) -> None:  # type: ignore[no-untyped-def]
    graph.reset_connection()
    expected_reports = one_by_one(batches)
    expected = snapshot()
    graph.reset_connection()

    reports = pipelined(batches)

    assert snapshot() == expected
    assert reports == expected_reports


def test_a_batch_sees_the_one_planned_before_it() -> None:
    """Batch 2 is read before batch 1 is written: it must still find batch 1's events (duplicates),
    its identifier (same customer) and its last event (the chain continues)."""
    first = [event("a", 1_000, "c1", phone="+61412000001")]
    second = [event("a", 1_000, "c1"), event("b", 2_000, phone="+61412000001")]

    reports = pipelined([first, second])

    assert [(r.loaded, r.duplicates, r.customers_created) for r in reports if r] == [(1, 0, 1), (1, 1, 0)]
    assert journeys.next_chain("c1") == [("a", "b", 1_000)]
    assert journeys.graph_counts() == {"customer": 1, "identifier": 1, "event": 2, "milestone": 0}


def test_a_late_event_for_a_customer_of_the_batch_before_waits_for_that_batch() -> None:
    reports = pipelined([[event("a", 1_000, "c1"), event("c", 3_000, "c1")], [event("b", 2_000, "c1")]])

    assert [r.loaded for r in reports if r] == [2, 1]
    assert journeys.next_chain("c1") == [("a", "b", 1_000), ("b", "c", 1_000)]


def test_batches_without_records_keep_their_place() -> None:
    batches = [[event("a", 1, "c1")], [], [event("b", 2, "c1")]]

    results = list(journey_writes.write_event_batches(batches, lambda b: b))

    assert [(item, report is None) for item, report in results] == [(batches[0], False), ([], True),
                                                                    (batches[2], False)]


def test_a_store_changed_behind_the_writer_is_read_again() -> None:
    """The writer remembers the spans it wrote; a customer dropped by someone else makes the next
    write fail its checks, and the pipeline reads the store again instead of failing the load."""
    pipelined([[event("a", 1, "c1")]])
    get_g().V(s.customer_vid("c1")).drop().iterate()

    reports = pipelined([[event("b", 2, "c1")], [event("c", 3, "c1")]])

    assert [r.loaded for r in reports if r] == [1, 1]
    assert journeys.next_chain("c1") == [("b", "c", 1)]
    assert get_g().V(s.customer_vid("c1")).values("first_seen").next() == 2


def test_a_failed_write_stops_the_load_after_the_batches_that_landed(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real_run = bulk_load.NativeWrite.run
    calls = {"n": 0}

    def failing_second(self) -> None:  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            self.close()
            raise GraphQueryError("disk full")
        real_run(self)

    monkeypatch.setattr(bulk_load.NativeWrite, "run", failing_second)
    landed = []
    with pytest.raises(GraphQueryError, match="disk full"):
        for batch, _ in journey_writes.write_event_batches([[event("a", 1, "c1")], [event("b", 2, "c1")],
                                                            [event("c", 3, "c1")]], lambda b: b):
            landed.append(batch[0].event_id)

    assert landed == ["a"]
    assert get_connection().embedded_store.spans == {}  # type: ignore[union-attr]
    assert journeys.graph_counts()["event"] == 1


def test_a_consumer_that_stops_early_leaves_no_batch_files(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(bulk_load, "SCRATCH", str(tmp_path))
    stream = journey_writes.write_event_batches([[event(f"e{i}", i, "c1")] for i in range(5)], lambda b: b)

    next(stream)
    stream.close()

    assert list(tmp_path.iterdir()) == []
    assert get_connection().embedded_store.spans == {}  # type: ignore[union-attr]
    assert journeys.graph_counts()["event"] == 1  # the second batch was planned, never handed over
