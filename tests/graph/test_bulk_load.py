"""The embedded store's native bulk form: the same graph as Gremlin upserts, all or nothing."""
from __future__ import annotations

import pytest
from gremlin_python.process.traversal import T

from graph import journeys
from graph import schema as s
from graph.bulk_load import apply_natively
from graph.connection import get_connection, get_g
from graph.errors import GraphQueryError
from graph.schema import EventRecord
from graph.write_plan import WritePlan


def event(event_id: str, ts: int, customer: str = "c1", **extra: object) -> EventRecord:
    return EventRecord(event_id=event_id, type="t", channel="web", ts=ts, customer_id=customer, **extra)  # type: ignore[arg-type]


def store():  # type: ignore[no-untyped-def]
    found = get_connection().embedded_store
    assert found is not None
    return found


def counts() -> tuple[int, int]:
    return get_g().V().count().next(), get_g().E().count().next()


def test_a_batch_lands_with_typed_properties_and_every_edge() -> None:
    journeys.write_events([event("a", 1_767_225_600_000, attributes={"page": "home"}),
                           event("b", 1_767_225_600_500, identifiers=(("phone", "+61412345678"),))])

    props = get_g().V("event:a").element_map().next()
    assert (props["ts"], props["attributes"], props["customer_id"]) == (1_767_225_600_000, '{"page": "home"}', "c1")
    assert journeys.next_chain("c1") == [("a", "b", 500)]
    assert get_g().V("customer:c1").out_e("has_identifier").values("first_seen").to_list() == [1_767_225_600_500]
    # 1 customer, 2 events, 1 identifier; 2 performed, 1 next, 1 has_identifier
    assert counts() == (4, 4)


def test_an_edge_between_two_existing_vertices_is_written_too() -> None:
    phone = (("phone", "+61412345678"),)
    journeys.write_events([event("a", 1, "c1"), event("b", 2, "c2", identifiers=phone)])
    journeys.write_events([event("c", 3, "c1", identifiers=phone)])  # c1 and the phone both exist already

    owners = sorted(get_g().V(s.identifier_vid("phone", "+61412345678")).in_("has_identifier")
                    .values("customer_id").to_list())
    assert owners == ["c1", "c2"]


def test_an_event_vertex_left_without_its_performed_edge_is_matched_not_duplicated() -> None:
    journeys.write_events([event("a", 1)])
    # what an interrupted remote batch leaves: the vertex, not yet its performed edge
    get_g().add_v(s.EVENT).property(T.id, "event:b").property("type", "t").iterate()
    assert get_g().V("event:b").count().next() == 1

    report = journeys.write_events([event("b", 2)])

    assert report.loaded == 1
    assert get_g().V("event:b").count().next() == 1
    assert get_g().V("event:b").values("channel").to_list() == ["web"]
    assert get_g().V("event:b").in_e("performed").count().next() == 1
    assert journeys.next_chain("c1") == [("a", "b", 1)]


def test_an_edge_to_a_missing_vertex_rolls_the_whole_batch_back() -> None:
    journeys.write_events([event("a", 1)])
    before = counts()
    plan = WritePlan(events=[("event:z", s.EVENT, {"ts": 5})],
                     updates=[("customer:c1", {"last_seen": 5})],
                     edges=[(s.PERFORMED, "customer:nobody", "event:z", {"ts": 5})])

    with pytest.raises(GraphQueryError, match="a vertex an edge of this batch needs is missing"):
        apply_natively(store(), plan)

    assert counts() == before
    assert get_g().V("customer:c1").values("last_seen").next() == 1


def test_an_update_of_a_missing_vertex_rolls_the_whole_batch_back() -> None:
    before = counts()
    plan = WritePlan(created=[("customer:c9", s.CUSTOMER, {"customer_id": "c9"})],
                     updates=[("customer:ghost", {"last_seen": 5})])

    with pytest.raises(GraphQueryError, match="a vertex this batch updates is missing"):
        apply_natively(store(), plan)

    assert counts() == before


def test_only_plain_property_names_become_query_text() -> None:
    journeys.write_events([event("a", 1)])
    plan = WritePlan(updates=[("customer:c1", {"x = 1, v.y": 5})])

    with pytest.raises(ValueError, match="cannot be updated in bulk"):
        apply_natively(store(), plan)


def test_a_customer_removed_behind_the_writer_is_read_again_and_recreated() -> None:
    journeys.write_events([event("a", 1)])
    get_g().V("customer:c1").drop().iterate()  # not through the write path: its remembered span is stale

    journeys.write_events([event("b", 2)])

    summary = journeys.customer_summary("c1")
    assert summary is not None
    assert (summary.first_seen, summary.last_seen, summary.event_count) == (2, 2, 1)


def test_spans_the_writer_remembers_match_the_store() -> None:
    journeys.write_events([event("a", 10), event("b", 30, "c2")])
    journeys.write_events([event("c", 20), event("d", 5, "c2")])

    assert store().spans == {"c1": (10, 20, "event:c"), "c2": (5, 30, "event:b")}
    rows = get_g().V("customer:c1", "customer:c2").project("c", "f", "l", "e").by("customer_id").by(
        "first_seen").by("last_seen").by("last_event").to_list()
    assert {r["c"]: (r["f"], r["l"], r["e"]) for r in rows} == store().spans


def test_a_new_customer_whose_identifier_is_known_keeps_its_performed_edge() -> None:
    """The customer's line carries its identifier edge (`outE`); its performed edge must travel
    there too, since the import skips `inE` entries naming an out-vertex that lists its own edges."""
    phone = (("phone", "+61412345678"),)
    journeys.write_events([event("a", 1, "c1", identifiers=phone)])

    report = journeys.write_events([event("b", 2, "c2", identifiers=phone)])

    assert report.loaded == 1
    assert get_g().V("event:b").in_("performed").id_().to_list() == ["customer:c2"]
    assert sorted(get_g().V(s.identifier_vid("phone", "+61412345678")).in_("has_identifier").id_().to_list()) == [
        "customer:c1", "customer:c2"]


def test_an_import_that_takes_less_than_the_whole_batch_rolls_it_back(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import graph.bulk_load as bulk_load

    phone = (("phone", "+61412345678"),)
    journeys.write_events([event("a", 1, "c1", identifiers=phone)])
    real = bulk_load._place_edge

    def inverted(staged, edge):  # type: ignore[no-untyped-def]
        """Places an edge on its in-vertex's line even where the import skips it."""
        label, out_v, in_v, props = edge
        if in_v in staged.lines and out_v in staged.lines:
            staged.lines[in_v].edges.setdefault(("inE", label), []).append(f'{{"outV":"{out_v}","properties":{{}}}}')
            staged.edges += 1
            return
        real(staged, edge)

    monkeypatch.setattr(bulk_load, "_place_edge", inverted)
    before = counts()
    with pytest.raises(GraphQueryError, match="did not import every element"):
        journeys.write_events([event("b", 2, "c2", identifiers=phone), event("c", 3, "c2")])

    assert counts() == before


def test_a_plan_that_cannot_become_a_script_leaves_no_batch_file(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import graph.bulk_load as bulk_load

    journeys.write_events([event("a", 1)])
    monkeypatch.setattr(bulk_load, "SCRATCH", str(tmp_path))
    plan = WritePlan(created=[("customer:c9", s.CUSTOMER, {"customer_id": "c9"})],
                     updates=[("customer:c1", {"last seen; drop": 2})])

    with pytest.raises(ValueError, match="cannot be updated in bulk"):
        apply_natively(store(), plan)

    assert list(tmp_path.iterdir()) == []
    assert get_g().V("customer:c9").count().next() == 0
