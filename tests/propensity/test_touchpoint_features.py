"""Sequence features for the boosted candidate: exact columns for a known journey, and a boosted
next-touchpoint ranking that learns a deterministic successor rule."""
from __future__ import annotations

import numpy as np

from apps.propensity.touchpoint_boosted import fit_next_booster
from apps.propensity.touchpoint_features import SequenceEncoder


def test_a_journey_spelled_out_as_counts_positions_recency_and_transitions() -> None:
    # given: the vocabulary and bigrams of three training journeys (bigrams seen in 2+ of them)
    encoder = SequenceEncoder.learn([["A", "B", "A"], ["B", "A", "C"], ["C", "visit"]], min_bigram_rows=2)
    # when
    row = encoder.transform([["A", "B", "A", "Z"]])[0]
    # then: Z was never seen in training, so it only counts towards the length
    assert encoder.vocab == ("A", "B", "C", "visit") and encoder.bigrams == (("B", "A"),)
    assert {name: value for name, value in zip(encoder.names(), row, strict=True) if value} == {
        "count_A": 2, "count_B": 1, "last_2=A": 1, "last_3=B": 1, "first=A": 1,
        "length": 4, "distinct": 3, "repeats": 1, "steps_since_A": 2, "steps_since_B": 3,
        "steps_since_first_A": 4, "steps_since_first_B": 3, "bigram_B>A": 1}


def test_the_conversion_seen_already_is_its_own_column() -> None:
    encoder = SequenceEncoder.learn([["A", "visit"], ["visit"]])
    names = encoder.names()
    rows = encoder.transform([["visit"], ["A", "visit"], ["A"]])
    assert rows[:, names.index("has_visit")].tolist() == [1, 1, 0]
    assert rows[:, names.index("only_visit")].tolist() == [1, 0, 0]
    assert encoder.bigrams == ()  # one journey is below the default 50


def test_boosted_ranking_learns_a_successor_rule() -> None:
    # given: the next step always follows the last one in the cycle A→B→C→D→A
    tokens = ["A", "B", "C", "D"]
    rng = np.random.default_rng(0)
    journeys = [[tokens[i] for i in rng.integers(0, 4, rng.integers(1, 4))] for _ in range(600)]
    nexts = [tokens[(tokens.index(j[-1]) + 1) % 4] for j in journeys]
    encoder = SequenceEncoder.learn(journeys[:400])
    X = encoder.transform(journeys)
    # when
    ranking = fit_next_booster(X[:400], nexts[:400], X[400:500], nexts[400:500], seed=0)
    # then: every unseen journey's next step is ranked first
    assert [r[0] for r in ranking.ranked(X[500:], 2)] == nexts[500:]
