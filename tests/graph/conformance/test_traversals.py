"""Every traversal pattern the project uses answers the same on each backend (embedded, server, env)."""
from __future__ import annotations

from gremlin_python.process.graph_traversal import GraphTraversalSource, __
from gremlin_python.process.traversal import Cardinality, Order, P, T

from tests.graph.conformance.journey_graph import MINUTE, T0, path_objects, plain, seed, upsert_vertices


def test_merge_v_creates_then_matches(backend: GraphTraversalSource) -> None:
    # given a customer created by an upsert
    row = {"k": {T.id: "customer:c9", T.label: "customer"},
           "c": {"customer_id": "c9", "first_seen": T0, "last_seen": T0}, "m": {"last_seen": T0 + MINUTE}}
    created = upsert_vertices(backend, [row])
    # when the same upsert runs again
    matched = upsert_vertices(backend, [row])
    # then the second run took the onMatch branch on the same vertex
    assert created == matched == ["customer:c9"]
    assert backend.V().count().next() == 1
    assert plain(backend.V("customer:c9").value_map("first_seen", "last_seen").next()) == {
        "first_seen": [T0], "last_seen": [T0 + MINUTE]}


def test_merge_e_is_idempotent(backend: GraphTraversalSource) -> None:
    seed(backend)
    seed(backend)
    assert backend.V().count().next() == 10
    assert plain(backend.E().group_count().by(T.label).next()) == {
        "has_identifier": 3, "performed": 5, "next": 3, "reached": 1, "merged_into": 1}


def test_has_has_label_and_has_id_within(backend: GraphTraversalSource) -> None:
    seed(backend)
    by_channel = backend.V().has_label("event").has("channel", P.within(["web", "chat"])).id_().order().to_list()
    by_id = backend.V().has_id(P.within(["event:e2", "customer:c1", "nope"])).has_label("event").id_().to_list()
    by_key = backend.V().has("event", "intent", "home_loan").values("ts").order().to_list()
    in_window = backend.V().has_label("event").has("ts", P.gte(T0 + MINUTE)).has("ts", P.lt(T0 + 2 * MINUTE)) \
        .id_().order().to_list()
    assert by_channel == ["event:e1", "event:e3", "event:e5"]
    assert by_id == ["event:e2"]
    assert by_key == [T0 + MINUTE, T0 + 90_000]
    assert in_window == ["event:e2", "event:e5"]


def test_out_in_both(backend: GraphTraversalSource) -> None:
    seed(backend)
    assert backend.V("customer:c1").out("performed").id_().order().to_list() == ["event:e1", "event:e2", "event:e3"]
    assert backend.V("event:e2").in_("performed").values("customer_id").to_list() == ["c1"]
    assert backend.V("event:e2").both("next").id_().order().to_list() == ["event:e1", "event:e3"]
    assert backend.V("identifier:email:ann@example.com").in_("has_identifier").values("customer_id") \
        .order().to_list() == ["c1", "c2"]


def test_out_e_in_v_and_edge_properties(backend: GraphTraversalSource) -> None:
    seed(backend)
    gaps = backend.V("customer:c1").out("performed").out_e("next").values("gap_ms").to_list()
    types = backend.V("customer:c2").out_e("performed").in_v().values("type").order().to_list()
    merge = plain(backend.V("customer:c2").out_e("merged_into").element_map().next())
    assert gaps == [MINUTE, MINUTE]
    assert types == ["apply", "login"]
    assert {k: merge[k] for k in ("label", "rule", "confidence", "ts", "by")} == {
        "label": "merged_into", "rule": "shared_email", "confidence": 0.75, "ts": T0 + 100_000, "by": "rules"}
    assert (plain(merge["OUT"])["id"], plain(merge["IN"])["id"]) == ("customer:c2", "customer:c1")


def test_latest_events_order_by_ts_desc_limit_and_range(backend: GraphTraversalSource) -> None:
    seed(backend)
    customer = backend.V("customer:c1").out_e("performed")
    latest = customer.order().by("ts", Order.desc).limit(2).in_v().id_().to_list()
    page = backend.V("customer:c1").out_e("performed").order().by("ts", Order.asc).range_(1, 3).in_v().id_() \
        .to_list()
    by_two_keys = backend.V().has_label("event").order().by("channel").by("ts", Order.desc).id_().to_list()
    assert latest == ["event:e3", "event:e2"]
    assert page == ["event:e2", "event:e3"]
    assert by_two_keys == ["event:e4", "event:e3", "event:e2", "event:e5", "event:e1"]


def test_project_by(backend: GraphTraversalSource) -> None:
    seed(backend)
    rows = (backend.V("customer:c1").out_e("performed").order().by("ts").project("e", "c", "ts", "type")
            .by(__.in_v().id_()).by(__.out_v().values("customer_id")).by("ts").by(__.in_v().values("type"))
            .to_list())
    assert rows == [{"e": "event:e1", "c": "c1", "ts": T0, "type": "login"},
                    {"e": "event:e2", "c": "c1", "ts": T0 + MINUTE, "type": "call"},
                    {"e": "event:e3", "c": "c1", "ts": T0 + 2 * MINUTE, "type": "chat"}]


def test_value_map_and_element_map(backend: GraphTraversalSource) -> None:
    seed(backend)
    values = plain(backend.V("event:e2").value_map().next())
    element = plain(backend.V("event:e2").element_map().next())
    some = plain(backend.V("event:e2").element_map("channel").next())
    assert values == {"type": ["call"], "channel": ["voice"], "ts": [T0 + MINUTE], "intent": ["home_loan"]}
    assert element == {"id": "event:e2", "label": "event", "type": "call", "channel": "voice",
                       "ts": T0 + MINUTE, "intent": "home_loan"}
    assert some == {"id": "event:e2", "label": "event", "channel": "voice"}


def test_group_count_by_label_and_by_property(backend: GraphTraversalSource) -> None:
    seed(backend)
    assert plain(backend.V().group_count().by(T.label).next()) == {
        "customer": 2, "identifier": 2, "event": 5, "milestone": 1}
    assert backend.V().has_label("event").group_count().by("channel").next() == {
        "web": 2, "voice": 1, "chat": 1, "app": 1}


def test_group_by_by_count_and_fold(backend: GraphTraversalSource) -> None:
    seed(backend)
    counts = backend.V().has_label("event").group().by("intent").by(__.count()).next()
    folded = backend.V().has_label("event").group().by("channel").by(__.values("type").order().fold()).next()
    assert counts == {"": 2, "home_loan": 2, "complaint": 1}
    assert folded == {"web": ["apply", "login"], "voice": ["call"], "chat": ["chat"], "app": ["login"]}


def test_fold_and_unfold(backend: GraphTraversalSource) -> None:
    seed(backend)
    folded = backend.V("customer:c1").out("performed").values("channel").order().fold().next()
    unfolded = backend.inject(["b", "a"]).unfold().to_list()
    assert folded == ["chat", "voice", "web"]
    assert unfolded == ["b", "a"]
    assert backend.V("customer:none").fold().next() == []


def test_coalesce_get_or_create(backend: GraphTraversalSource) -> None:
    # given an existing milestone
    seed(backend)

    def get_or_create(vid: str) -> str:
        return (backend.V(vid).fold().coalesce(__.unfold(), __.add_v("milestone").property(T.id, vid)
                                                .property("name", "New")).values("name").next())

    # when get-or-create runs for it and for a new one, twice
    names = [get_or_create("milestone:applied"), get_or_create("milestone:new"), get_or_create("milestone:new")]
    # then the existing one is found and the new one created once
    assert names == ["Applied", "New", "New"]
    assert backend.V().has_label("milestone").count().next() == 2
    assert backend.V("event:e1").coalesce(__.values("outcome"), __.constant("none")).next() == "none"


def test_drop_edges_and_vertices(backend: GraphTraversalSource) -> None:
    seed(backend)
    backend.V("event:e1").out_e("next").drop().iterate()
    backend.V("event:e3").drop().iterate()
    assert backend.V().count().next() == 9
    assert backend.E().has_label("next").count().next() == 1
    assert backend.V("customer:c1").out("performed").count().next() == 2


def test_property_single_replaces_the_value(backend: GraphTraversalSource) -> None:
    seed(backend)
    backend.V("customer:c1").property(Cardinality.single, "last_seen", T0 + 9 * MINUTE) \
        .property("attributes", '{"segment": "gold"}').iterate()
    assert backend.V("customer:c1").values("last_seen").to_list() == [T0 + 9 * MINUTE]
    assert backend.V("customer:c1").values("attributes").to_list() == ['{"segment": "gold"}']


def test_count_and_dedup(backend: GraphTraversalSource) -> None:
    seed(backend)
    assert backend.V().has_label("event").count().next() == 5
    assert backend.V("customer:c1").out("performed").count().next() == 3
    assert backend.V().has_label("event").values("channel").dedup().order().to_list() == ["app", "chat", "voice", "web"]
    assert backend.V().has_label("identifier").in_("has_identifier").dedup().count().next() == 2


def test_where_and_not(backend: GraphTraversalSource) -> None:
    seed(backend)
    without_milestone = backend.V().has_label("customer").not_(__.out_e("reached")).id_().to_list()
    called = backend.V().has_label("customer").where(__.out("performed").has("channel", "voice")).id_().to_list()
    performed = backend.V().has_label("event").where(__.in_e("performed")).count().next()
    assert without_milestone == ["customer:c1"]
    assert called == ["customer:c1"]
    assert performed == 5


def test_path(backend: GraphTraversalSource) -> None:
    seed(backend)
    path = backend.V("customer:c1").out_e("performed").has("ts", T0).in_v().out("next").path().next()
    objects = path_objects(path)
    assert [getattr(o, "id", None) for o in (objects[0], objects[2], objects[3])] == [
        "customer:c1", "event:e1", "event:e2"]
    assert objects[1].label == "performed"


def test_select(backend: GraphTraversalSource) -> None:
    seed(backend)
    rows = (backend.V("customer:c1").as_("c").out("performed").has("channel", "voice").as_("e")
            .select("c", "e").by(T.id).to_list())
    single = backend.V("customer:c2").as_("c").out("performed").has("type", "apply").select("c").id_().to_list()
    assert rows == [{"c": "customer:c1", "e": "event:e2"}]
    assert single == ["customer:c2"]


def test_values_keep_their_types(backend: GraphTraversalSource) -> None:
    backend.add_v("probe").property(T.id, "probe:1").property("small", 7).property("big", T0) \
        .property("ratio", 0.5).property("flag", True).property("text", "héllo ✓").iterate()
    values = plain(backend.V("probe:1").value_map().next())
    assert values == {"small": [7], "big": [T0], "ratio": [0.5], "flag": [True], "text": ["héllo ✓"]}
    assert [type(v[0]) for v in (values["small"], values["big"], values["ratio"], values["flag"])] == [
        int, int, float, bool]


def test_min_max_and_lte(backend: GraphTraversalSource) -> None:
    seed(backend)
    latest = backend.V().has_label("customer").values("last_seen").max_().to_list()
    first_links = (backend.V("customer:c1", "customer:c2").order().by(T.id).project("c", "first")
                   .by(T.id).by(__.out_e("performed").values("ts").min_().fold()).to_list())
    until = backend.V("customer:c1").out_e("performed").has("ts", P.lte(T0 + MINUTE)).count().next()
    assert latest == [T0 + 2 * MINUTE]
    assert first_links == [{"c": "customer:c1", "first": [T0]}, {"c": "customer:c2", "first": [T0 + 30_000]}]
    assert until == 2


def test_edges_by_id_list_and_drop(backend: GraphTraversalSource) -> None:
    # given the ids of the next edges (engine and server ids are strings, TinkerGraph's may be numbers)
    seed(backend)
    ids = backend.E().has_label("next").id_().to_list()
    # when they are read back by a list of ids, then dropped by id
    read = backend.E(ids).values("gap_ms").to_list()
    backend.E(*ids[:2]).drop().iterate()
    # then
    assert read == [MINUTE, MINUTE, MINUTE]
    assert backend.E().has_label("next").count().next() == 1


def test_project_a_callers_bounded_latest_events_as_value_maps(backend: GraphTraversalSource) -> None:
    # the risk decision's history read: per caller, the latest events before a time, as value maps
    seed(backend)
    history = (__.out_e("performed").has("ts", P.lt(T0 + 2 * MINUTE)).order().by("ts", Order.desc).limit(5)
               .in_v().value_map("ts", "type", "channel", "outcome").fold())
    rows = backend.inject(0).project("caller").by(
        __.V("customer:c1").project("c", "history").by("customer_id").by(history).fold()).to_list()
    caller = plain(rows[0]["caller"][0])
    assert caller["c"] == "c1"
    assert caller["history"] == [{"ts": [T0 + MINUTE], "type": ["call"], "channel": ["voice"]},
                                 {"ts": [T0], "type": ["login"], "channel": ["web"]}]
