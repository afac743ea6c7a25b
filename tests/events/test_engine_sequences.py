"""The similarity index's input, each customer's journey, is assembled in the engine and equals the
analyzer's `sequences` on the same events (equal times in arrival order), on DuckDB and on Spark."""
from __future__ import annotations

import pytest

from apps.events.analytics import frames
from apps.events.engine import EventFilter
from apps.journeys.analyzers.base import sequences
from apps.journeys.analyzers.similarity import ShingleIndex
from tests.events.conftest import ENGINE_KINDS, tied_frame


@pytest.mark.parametrize("kind", ENGINE_KINDS)
def test_journeys_equal_the_analyzer_and_build_the_same_index(store, kind):
    frame = tied_frame(n_events=3_000, n_customers=300, seed=5)
    engine = store(frame, kind)

    found = frames.sequences(engine)

    expected = sequences(frame)
    assert found == expected
    assert list(found) == list(expected)  # customers in the same order
    query = {"customer_id": frame["customer_id"].iloc[0], "threshold": 0.3, "k": 5}
    assert ShingleIndex.build(found).query(**query) == ShingleIndex.build(expected).query(**query)


def test_some_customers_only(store):
    frame = tied_frame(n_events=600, n_customers=60, seed=2)
    engine = store(frame)
    wanted = tuple(sorted(frame["customer_id"].unique()[:3]))

    found = frames.sequences(engine, EventFilter(customer_ids=wanted))

    assert found == {c: s for c, s in sequences(frame).items() if c in wanted}
