"""Similarity index: known scores on the hand-built set, updates, and equality with a brute-force
scan on the touchpoint sequences of the shared data."""
from __future__ import annotations

import pandas as pd
import pytest

from apps.journeys.analyzers.base import sequences
from apps.journeys.analyzers.similarity import ShingleIndex, SimilarJourney, brute_force


@pytest.fixture
def index(journeys) -> ShingleIndex:
    return ShingleIndex.build(sequences(journeys))


def test_similar_to_a_customer(index):
    result = index.query(customer_id="c1", threshold=0.2, k=3)

    assert result.query == ("web_visit", "call", "purchase")
    assert result.similar_customers == 3
    assert result.top == (
        SimilarJourney("c2", 1.0, ("web_visit", "call", "purchase"), (("web_visit", "call", "purchase"),)),
        SimilarJourney("c4", 0.333333, ("call", "web_visit", "purchase"), (("call",), ("purchase",), ("web_visit",))),
        SimilarJourney("c3", 0.2, ("web_visit", "chat", "call"), (("call",), ("web_visit",))),
    )


def test_similar_to_an_explicit_sequence(index):
    result = index.query(sequence=["call", "chat"], threshold=0.25, k=5)

    assert [(m.customer_id, m.score, m.shared) for m in result.top] == [
        ("c6", 0.6, (("call", "chat"),)), ("c3", 0.285714, (("call",), ("chat",)))]


def test_update_keeps_the_index_current(index):
    index.update("c5", ["web_visit", "call", "purchase"])

    result = index.query(customer_id="c1", threshold=0.2, k=2)

    assert result.similar_customers == 4
    assert [(m.customer_id, m.score) for m in result.top] == [("c2", 1.0), ("c5", 1.0)]
    assert len(index) == 6


def test_unknown_customer_and_bad_arguments(index):
    with pytest.raises(KeyError, match="customer 'nobody' has no journey"):
        index.query(customer_id="nobody")
    with pytest.raises(ValueError, match="threshold must be in \\(0, 1\\], got 0"):
        index.query(sequence=["call"], threshold=0)
    with pytest.raises(ValueError, match="give either customer_id or sequence"):
        index.query()


def _touchpoint_sequences(shared_data) -> dict[str, tuple[str, ...]]:
    out = {}
    for line in (shared_data / "touchpoints" / "train.tsv").read_text().splitlines():
        customer, seen, target = line.split("\t")
        out[customer] = tuple(seen.split(" ") + target.split(" "))
    return out


def test_index_equals_brute_force_on_touchpoint_sequences(shared_data):
    seqs = _touchpoint_sequences(shared_data)
    index = ShingleIndex.build(seqs)

    for customer in ("21018", *list(seqs)[:3]):
        for threshold in (0.3, 0.6):
            expected = brute_force(seqs, query=seqs[customer], exclude=customer, threshold=threshold, k=10)
            result = index.query(customer_id=customer, threshold=threshold, k=10)
            assert result.similar_customers == len(expected)
            assert [(m.customer_id, m.score) for m in result.top] == [(c, round(s, 6)) for c, s in expected[:10]]


def test_lsh_candidates_are_reranked_exactly(journeys):
    index = ShingleIndex.build(sequences(journeys), lsh_perms=64, lsh_threshold=0.5)

    result = index.query(customer_id="c1", threshold=0.2, k=3, use_lsh=True)

    assert [(m.customer_id, m.score) for m in result.top][0] == ("c2", 1.0)


def test_index_equals_brute_force_on_the_demo_bank(shared_data):
    from apps.demo.dataset import build_demo_events

    records = build_demo_events(shared_data_dir=shared_data)
    frame = pd.DataFrame({"customer_id": [r["customer_id"] for r in records],
                          "event_id": [r["event_id"] for r in records], "type": [r["event_type"] for r in records],
                          "channel": [r["channel"] for r in records], "ts": [r["timestamp"] for r in records]})
    seqs = sequences(frame)
    index = ShingleIndex.build(seqs)

    for customer in list(seqs)[::300]:
        expected = brute_force(seqs, query=seqs[customer], exclude=customer, threshold=0.4, k=10)
        result = index.query(customer_id=customer, threshold=0.4, k=10)
        assert result.similar_customers == len(expected)
        assert [(m.customer_id, m.score) for m in result.top] == [(c, round(s, 6)) for c, s in expected[:10]]
