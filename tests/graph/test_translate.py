"""The bytecode → engine-script translation: literals are bound, non-portable steps are refused."""
from __future__ import annotations

from decimal import Decimal
from enum import Enum

import pytest
from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import (
    Bytecode,
    Cardinality,
    Direction,
    Merge,
    Operator,
    Order,
    P,
    Pop,
    Scope,
    T,
    TextP,
)
from gremlin_python.structure.graph import Graph

from graph.errors import UnsupportedTraversal
from graph.translate import Param, translate, translate_cached, translate_many

g = Graph().traversal()


def test_every_literal_becomes_a_parameter_so_user_text_never_becomes_script() -> None:
    script = translate(g.V().has("name", "x'); g.V().drop(); ('").values("name").bytecode)
    assert script.text == "g.V().has(p0, p1).values(p2)"
    assert script.params == {"p0": "name", "p1": "x'); g.V().drop(); ('", "p2": "name"}


def test_maps_with_tokens_travel_as_json_with_the_engines_reserved_keys() -> None:
    script = translate(g.merge_e({T.label: "next", Direction.OUT: "event:a", Direction.IN: "event:b"}).bytecode)
    assert script.text == "g.mergeE(parse_json(p0))"
    assert script.params == {"p0": '{"T.label": "next", "Direction.OUT": "event:a", "Direction.IN": "event:b"}'}


def test_tokens_predicates_and_child_traversals() -> None:
    traversal = (g.V().has("ts", P.gte(5).and_(P.lt(9))).order().by("ts", Order.desc)
                 .coalesce(__.out("next"), __.constant(0)).merge_v(__.select("k"))
                 .option(Merge.on_create, __.select("c")).property(Cardinality.single, "a", 1))
    script = translate(traversal.bytecode)
    assert script.text == ("g.V().has(p0, P.gte(p1).and(P.lt(p2))).order().by(p3, Order.desc)"
                           ".coalesce(__.out(p4), __.constant(p5)).mergeV(__.select(p6))"
                           ".option(Merge.onCreate, __.select(p7)).property(Cardinality.single, p8, p9)")


def test_many_ids_are_passed_as_one_list_and_iterate_discards_results() -> None:
    bytecode = g.V("a", "b", "c").drop().bytecode
    bytecode.add_step("none")
    script = translate(bytecode)
    assert (script.text, script.discard) == ("g.V(parse_json(p0)).drop()", True)
    assert script.params == {"p0": '["a", "b", "c"]'}


@pytest.mark.parametrize("traversal, message", [
    (lambda: g.V().match(__.as_("a")), r"match\(\): match\(\) is not portable"),
    (lambda: g.V().property(Cardinality.list_, "a", 1), "Multiple properties on a vertex is not supported"),
    (lambda: g.V().property("a", 1, "since", 2), "Properties on a vertex property is not supported"),
    (lambda: g.V().has("w", Decimal("0.1")), "BigDecimal 0.1 cannot be held exactly by the graph store"),
    (lambda: g.V().group_count().by({1: 2}), "map keys must be strings"),
])
def test_non_portable_traversals_are_refused_with_a_reason(traversal, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnsupportedTraversal, match=message):
        translate(traversal().bytecode)


def test_translate_many_builds_one_script_of_iterated_statements_with_shared_parameters() -> None:
    script = translate_many([g.V("a").drop().bytecode, g.inject([1, 2]).unfold().bytecode])
    assert script.text == "g.V(p0).drop().iterate();\ng.inject(parse_json(p1)).unfold().iterate();\n"
    assert script.params == {"p0": "a", "p1": "[1, 2]"}


def test_atomic_writes_leave_nothing_behind_when_one_statement_fails(g) -> None:  # type: ignore[no-untyped-def]
    from graph.connection import run_writes
    from graph.errors import GraphQueryError

    with pytest.raises(GraphQueryError):
        run_writes([g.add_v("customer").property(T.id, "customer:1"),
                    g.merge_e({T.label: "performed", Direction.OUT: "customer:1", Direction.IN: "event:missing"})])
    assert g.V().count().next() == 0


def test_placeholders_become_script_variables_and_lists_travel_as_json() -> None:
    traversal = g.V(Param("vids", json=True)).has("ts", P.lte(Param("until"))).limit(Param("n"))
    script = translate(traversal.bytecode)
    assert script.text == "g.V(parse_json(q_vids)).has(p0, P.lte(q_until)).limit(q_n)"
    assert script.params == {"p0": "ts"}


def _bytecode(steps: list[list[object]], source: list[list[object]] | None = None) -> Bytecode:
    bytecode = Bytecode()
    bytecode.step_instructions = [list(step) for step in steps]
    bytecode.source_instructions = [list(step) for step in source or []]
    return bytecode


def test_admin_options_cannot_be_set_from_the_wire() -> None:
    with pytest.raises(UnsupportedTraversal, match=r"source step with\(\) is not supported"):
        translate(_bytecode([["V"]], [["with", "evaluationTimeout", 0]]))


@pytest.mark.parametrize("steps, source, message", [
    ([["drop().iterate();g.V"]], None, r"unknown step 'drop\(\).iterate\(\);g.V'"),
    ([["V"], ["out"], ["has_label", "x"]], None, "unknown step 'has_label'"),
    ([["V"]], [["withSideEffect", "a", 1], ["defineQuery", "x"]], "unknown source step 'defineQuery'"),
    ([["out"]], [["drop"]], "unknown source step 'drop'"),
    ([["V"], [42]], None, "a step name must be a string, got int"),
    ([["V"], ["where", _bytecode([["out"], ["x();g.V().drop"]])]], None, r"unknown step 'x\(\);g.V\(\).drop'"),
    ([["V"], ["io", "/etc/passwd"]], None, r"io\(\) is not allowed"),
])
def test_step_names_from_the_wire_must_be_on_the_allow_list(steps, source, message) -> None:  # type: ignore[no-untyped-def]
    # given bytecode as any client may send it (names are free text on the wire)
    bytecode = _bytecode(steps, source)
    # when it is translated, then it is refused before any script text exists
    with pytest.raises(UnsupportedTraversal, match=message):
        translate(bytecode)


@pytest.mark.parametrize("predicate, message", [
    (P("eq).or(P.gt", 1), r"unknown predicate P.'eq\).or\(P.gt'"),
    (TextP("containing", "a").and_(TextP("gt", "b")), r"unknown predicate TextP.'gt'"),
    (P("and", 1, 2), r"P.and\(\) joins two predicates"),
])
def test_predicate_operators_must_be_on_the_allow_list(predicate, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnsupportedTraversal, match=message):
        translate(g.V().has("age", predicate).bytecode)


def test_token_members_must_be_on_the_allow_list() -> None:
    # given an enum whose member name is not a Gremlin token (as a hand-made wire value could be)
    Sneaky = Enum("Order", "asc desc evil__x")  # noqa: N806 - an enum named like a Gremlin token
    # when it is used, then it is refused, while real tokens translate to the engine's names
    with pytest.raises(UnsupportedTraversal, match=r"token 'Order'.'evil__x' is not supported"):
        translate(g.V().order().by("age", Sneaky.evil__x).bytecode)
    script = translate(g.V().as_("a").select(Pop.all_, "a").values("age").sum_(Scope.global_)
                       .sack(Operator.sum_long).bytecode)
    assert script.text == "g.V().as(p0).select(Pop.all, p1).values(p2).sum(Scope.global).sack(Operator.sumLong)"


def test_null_property_values_remove_the_property_except_on_a_new_element() -> None:
    # given property(key, null), which TinkerPop reads as "remove key"
    existing = translate(g.V("a").property("x", 1).property("y", None).bytecode)
    new = translate(g.add_v("p").property("x", 1).property("y", None).bytecode)
    # then an existing element drops it; a new element has nothing to drop, so the step goes
    assert existing.text == "g.V(p0).property(p1, p2).sideEffect(__.properties(p3).drop())"
    assert new.text == "g.addV(p0).property(p1, p2)"


def test_to_with_a_direction_is_the_vertex_step() -> None:
    assert translate(g.V("a").to(Direction.OUT, "knows").bytecode).text == "g.V(p0).out(p1)"


def test_choose_without_a_default_option_drops_unmatched_traversers() -> None:
    script = translate(g.V().choose(__.out().count()).option(2, __.values("name")).bytecode)
    assert script.text == ("g.V().choose(__.out().count()).option(p0, __.values(p1))"
                           ".option(Pick.none, __.limit(p2))")
    assert script.params == {"p0": 2, "p1": "name", "p2": 0}


def test_a_local_range_that_leaves_nothing_drops_the_traverser() -> None:
    script = translate(g.V().values("name").fold().range_(Scope.local, 4, 5).bytecode)
    assert script.text == "g.V().values(p0).fold().range(Scope.local, p1, p2).filter(__.unfold())"


def test_as_string_keeps_null() -> None:
    script = translate(g.inject(None, 1).as_string().bytecode)
    assert script.text == "g.inject(p0, p1).choose(__.is(P.eq(p2)), __.identity(), __.asString())"
    assert script.params == {"p0": None, "p1": 1, "p2": None}


def test_traversals_of_one_shape_share_a_translation_and_bind_their_own_values() -> None:
    # given two reads of the same shape with other values (a customer's last events, as graphserver gets them)
    def recent(customer: str, limit: int) -> Bytecode:
        return (g.V(customer).out_e("performed").order().by("ts", Order.desc).range_(0, limit).in_v()
                .has("score", P.between(0.5, 1.0)).element_map().bytecode)

    first, second = translate_cached(recent("customer:c1", 20)), translate_cached(recent("customer:c2", 5))
    # then one script text serves both, each with its own values, read only
    assert first.script.text == second.script.text == (
        "g.V(q_0).outE(q_1).order().by(q_2, Order.desc).range(q_3, q_4).inV().has(q_5, P.between(q_6, q_7))"
        ".elementMap()")
    assert first.script.params == {"q_0": "customer:c1", "q_1": "performed", "q_2": "ts", "q_3": 0, "q_4": 20,
                                   "q_5": "score", "q_6": 0.5, "q_7": 1.0}
    assert second.script.params["q_0"] == "customer:c2" and second.script.params["q_4"] == 5
    assert first.read_only and not translate_cached(g.V("x").property("a", 1).bytecode).read_only


@pytest.mark.parametrize("traversal", [
    g.V("customer:c1").property("gone", None),  # null: removes the property
    g.V("a", "b", "c").values("name"),  # many ids: one list
    g.V().has("name", P.within(["x", "y"])),  # a list of values
    g.V().value_map("name").with_("~tinkerpop.valueMap.tokens"),  # an option spelled as text
    g.inject(*range(12)),  # more values than the engine's inject() takes
])
def test_traversals_whose_translation_depends_on_their_values_are_translated_each_time(traversal) -> None:  # type: ignore[no-untyped-def]
    cached = translate_cached(traversal.bytecode)
    direct = translate(traversal.bytecode)
    assert (cached.script.text, cached.script.params) == (direct.text, direct.params)


def test_a_cached_shape_never_lets_another_step_name_through() -> None:
    # given a shape translated and kept
    translate_cached(g.V("customer:c1").values("name").bytecode)
    # when a traversal with the same values but a step name off the allow-list arrives
    sneaky = _bytecode([["V", "customer:c1"], ["drop().iterate();g.V", "name"]])
    # then it is refused by name, as without the cache
    with pytest.raises(UnsupportedTraversal, match=r"unknown step 'drop\(\).iterate\(\);g.V'"):
        translate_cached(sneaky)
