"""Funnels on the hand-built set: conversion, drop-off, timing, channel breakdown and drill-down."""
from __future__ import annotations

import pytest

from apps.journeys.analyzers.funnels import FunnelStep, funnel, funnel_customers
from tests.journeys.conftest import MIN

STEPS = ["web_visit", "call", "purchase"]


def test_funnel_without_window(journeys):
    result = funnel(journeys, events=STEPS)

    assert result.steps == (
        FunnelStep(1, "web_visit", 5, 1.0, 1.0, 2, None),
        FunnelStep(2, "call", 3, 0.6, 0.6, 1, 20 * MIN),
        FunnelStep(3, "purchase", 2, 0.4, 0.666667, 0, 55 * MIN),
    )
    assert result.conversion == 0.4


def test_conversion_window_counts_from_entry(journeys):
    result = funnel(journeys, events=STEPS, window_ms=45 * MIN)

    assert [s.customers for s in result.steps] == [5, 3, 0]


def test_breakdown_by_entry_channel(journeys):
    result = funnel(journeys, events=STEPS, by_channel=True)

    assert {ch: [s.customers for s in steps] for ch, steps in result.by_channel.items()} == {
        "app": [1, 1, 0], "web": [4, 2, 2]}


def test_drill_down_lists_customers_at_a_step(journeys):
    assert funnel_customers(journeys, events=STEPS, step=2) == ["c1", "c2", "c3"]
    assert funnel_customers(journeys, events=STEPS, step=2, dropped=True) == ["c3"]
    assert funnel_customers(journeys, events=STEPS, step=1, dropped=True) == ["c4", "c5"]
    assert funnel_customers(journeys, events=STEPS, step=3, channel="web") == ["c1", "c2"]


def test_steps_must_follow_in_order(journeys):
    result = funnel(journeys, events=["purchase", "web_visit"])

    assert [s.customers for s in result.steps] == [3, 0]


def test_bad_funnels_are_refused(journeys):
    with pytest.raises(ValueError, match="a funnel needs between 1 and 20 steps, got 0"):
        funnel(journeys, events=[])
    with pytest.raises(ValueError, match="step must be between 1 and 3, got 4"):
        funnel_customers(journeys, events=STEPS, step=4)
