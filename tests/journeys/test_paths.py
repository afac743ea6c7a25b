"""Paths after/before an event on the hand-built set, plus the exactness property on random logs."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.journeys.analyzers.paths import PathLink, PathNode, PathStep, paths
from tests.journeys.conftest import make_frame


def test_paths_after_first_web_visit(journeys):
    result = paths(journeys, start_event="web_visit", steps=3)

    assert (result.direction, result.total_customers, result.anchored_customers) == ("forward", 6, 5)
    assert result.nodes == (
        PathNode("1:web_visit", 1, "web_visit", 5, 1),
        PathNode("2:call", 2, "call", 2, 0), PathNode("2:chat", 2, "chat", 1, 0),
        PathNode("2:purchase", 2, "purchase", 1, 1),
        PathNode("3:purchase", 3, "purchase", 2, 2), PathNode("3:call", 3, "call", 1, 1),
    )
    assert result.links == (
        PathLink("1:web_visit", "2:call", 2), PathLink("1:web_visit", "2:chat", 1),
        PathLink("1:web_visit", "2:purchase", 1),
        PathLink("2:call", "3:purchase", 2), PathLink("2:chat", "3:call", 1),
    )
    assert result.steps == (PathStep(1, 5, 1, 0.2), PathStep(2, 4, 1, 0.25), PathStep(3, 3, 3, 1.0))


def test_rare_branches_fold_into_other(journeys):
    result = paths(journeys, start_event="web_visit", steps=3, min_count=2)

    assert [(n.id, n.customers) for n in result.nodes] == [
        ("1:web_visit", 5), ("2:call", 2), ("2:other", 2), ("3:purchase", 2), ("3:other", 1)]
    assert [(lk.source, lk.target, lk.customers) for lk in result.links] == [
        ("1:web_visit", "2:call", 2), ("1:web_visit", "2:other", 2),
        ("2:call", "3:purchase", 2), ("2:other", "3:other", 1)]


def test_paths_leading_to_purchase_run_backward_and_link_forward_in_time(journeys):
    result = paths(journeys, end_event="purchase", steps=3)

    assert result.direction == "backward"
    assert [(n.id, n.customers) for n in result.nodes] == [
        ("1:purchase", 3), ("2:call", 2), ("2:web_visit", 1), ("3:web_visit", 2), ("3:call", 1)]
    assert [(lk.source, lk.target, lk.customers) for lk in result.links] == [
        ("2:call", "1:purchase", 2), ("2:web_visit", "1:purchase", 1),
        ("3:web_visit", "2:call", 2), ("3:call", "2:web_visit", 1)]


def test_cleaning_rules_merge_noisy_types_and_repeats_can_collapse(journeys):
    rules = [(r"^(call|chat)$", "assisted")]

    plain = paths(journeys, steps=2, cleaning_rules=rules)
    collapsed = paths(journeys, steps=2, cleaning_rules=rules, collapse_repeats=True)

    assert [(n.id, n.customers) for n in plain.nodes] == [
        ("1:web_visit", 4), ("1:assisted", 2), ("2:assisted", 4), ("2:web_visit", 1)]
    assert [(lk.source, lk.target, lk.customers) for lk in plain.links] == [
        ("1:web_visit", "2:assisted", 3), ("1:assisted", "2:assisted", 1), ("1:assisted", "2:web_visit", 1)]
    assert [(n.id, n.customers) for n in collapsed.nodes] == [
        ("1:web_visit", 4), ("1:assisted", 2), ("2:assisted", 3), ("2:web_visit", 1)]


def test_anchor_absent_gives_empty_paths(journeys):
    result = paths(journeys, start_event="refund", steps=4)

    assert (result.anchored_customers, result.nodes, result.links) == (0, (), ())
    assert [s.customers for s in result.steps] == [0, 0, 0, 0]


@pytest.mark.parametrize("kwargs, message", [
    ({"start_event": "a", "end_event": "b"}, "give start_event or end_event, not both"),
    ({"steps": 21}, "steps must be between 1 and 20, got 21"),
    ({"min_count": 0}, "min_count must be at least 1, got 0"),
    ({"cleaning_rules": [("(", "x")]}, "cleaning rule pattern '\\(' is not a valid regular expression"),
])
def test_bad_arguments_are_named(journeys, kwargs, message):
    with pytest.raises(ValueError, match=message):
        paths(journeys, **kwargs)


journey_lists = st.lists(st.lists(st.sampled_from("ABCD"), min_size=1, max_size=8), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(journey_lists, st.sampled_from([None, "A", "B"]), st.integers(1, 6))
def test_link_counts_equal_customers_with_a_then_b_at_consecutive_steps(lists, anchor, steps):
    frame = make_frame([(f"k{c:02d}", i, t, "web", None) for c, seq in enumerate(lists) for i, t in enumerate(seq)])

    result = paths(frame, start_event=anchor, steps=steps)

    expected: dict[tuple[str, str], int] = {}
    for seq in lists:
        if anchor is not None and anchor not in seq:
            continue
        window = seq[seq.index(anchor):] if anchor else seq
        for n in range(min(steps, len(window)) - 1):
            key = (f"{n + 1}:{window[n]}", f"{n + 2}:{window[n + 1]}")
            expected[key] = expected.get(key, 0) + 1
    assert {(lk.source, lk.target): lk.customers for lk in result.links} == expected
