"""Fixed-width features of a touchpoint journey, for the gradient-boosting candidate.

A boosted tree sees one row of numbers, so the order of the journey has to be spelled out: which
touchpoint came last, second last and third last and which came first (one-hot, so a tree can split
on one channel without an arbitrary code order), how often each occurred, how many steps ago each
was last and first seen, and which frequent transitions (bigrams) occurred. Length, distinct
touchpoints and repeats say how far into the journey the customer is. The vocabulary and the
bigrams are learned from the training rows only, so nothing about the holdout shapes the columns.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

CONVERSION_TOKEN = "visit"
SUMMARY = ["length", "distinct", "repeats", "has_visit", "only_visit"]


@dataclass(frozen=True)
class SequenceEncoder:
    vocab: tuple[str, ...]
    bigrams: tuple[tuple[str, str], ...] = ()
    last_steps: int = 3

    @classmethod
    def learn(cls, inputs: list[list[str]], *, last_steps: int = 3, min_bigram_rows: int = 50) -> SequenceEncoder:
        """Vocabulary of the training journeys and the transitions seen in at least `min_bigram_rows` of them."""
        vocab = tuple(sorted({t for tokens in inputs for t in tokens}))
        seen = Counter(pair for tokens in inputs for pair in set(zip(tokens, tokens[1:], strict=False)))
        bigrams = tuple(sorted(pair for pair, rows in seen.items() if rows >= min_bigram_rows))
        return cls(vocab=vocab, bigrams=bigrams, last_steps=last_steps)

    def names(self) -> list[str]:
        v = self.vocab
        positional = [f"last_{k}={t}" for k in range(1, self.last_steps + 1) for t in v] + [f"first={t}" for t in v]
        return ([f"count_{t}" for t in v] + positional + SUMMARY + [f"steps_since_{t}" for t in v]
                + [f"steps_since_first_{t}" for t in v] + [f"bigram_{a}>{b}" for a, b in self.bigrams])

    def transform(self, inputs: list[list[str]]) -> np.ndarray:
        """One row per journey; touchpoints outside the vocabulary count towards length only."""
        X = np.zeros((len(inputs), len(self.names())), dtype=np.float64)
        index = {t: i for i, t in enumerate(self.vocab)}
        pair_index = {pair: i for i, pair in enumerate(self.bigrams)}
        v = len(self.vocab)
        summary = v * (self.last_steps + 2)
        since = summary + len(SUMMARY)
        for row, tokens in enumerate(inputs):
            codes = [index.get(t) for t in tokens]
            self._occurrences(X[row], codes, since)
            self._positions(X[row, v:summary], codes)
            X[row, summary:since] = [len(tokens), len(set(tokens)), len(tokens) - len(set(tokens)),
                                     float(CONVERSION_TOKEN in tokens), float(tokens == [CONVERSION_TOKEN])]
            for pair in zip(tokens, tokens[1:], strict=False):
                if pair in pair_index:
                    X[row, since + 2 * v + pair_index[pair]] += 1
        return X

    def _occurrences(self, out: np.ndarray, codes: list[int | None], since: int) -> None:
        """Counts, then steps since the last and since the first occurrence (1 = the latest step)."""
        v, n = len(self.vocab), len(codes)
        for i, code in enumerate(codes):
            if code is None:
                continue
            out[code] += 1
            out[since + code] = n - i
            if out[since + v + code] == 0:
                out[since + v + code] = n - i

    def _positions(self, out: np.ndarray, codes: list[int | None]) -> None:
        """One-hots of the last `last_steps` touchpoints, then of the first one."""
        v = len(self.vocab)
        for k in range(1, min(self.last_steps, len(codes)) + 1):
            code = codes[-k]
            if code is not None:
                out[(k - 1) * v + code] = 1
        if codes and codes[0] is not None:
            out[self.last_steps * v + codes[0]] = 1


LEGACY_LAST_STEPS = 3
LEGACY_CATEGORICAL = [f"last_{k}" for k in range(1, LEGACY_LAST_STEPS + 1)] + ["first"]


def legacy_features(inputs: list[list[str]], vocab: list[str]) -> np.ndarray:
    """The columns of next_touchpoint versions trained before the encoder above (bag of tokens, length,
    distinct, conversion seen, a repeat, and the last/first steps as category codes), so those versions
    can still be loaded, evaluated and rolled back to."""
    index = {t: i for i, t in enumerate(vocab)}
    v = len(vocab)
    X = np.zeros((len(inputs), v + 4 + LEGACY_LAST_STEPS + 1), dtype=np.float64)
    for row, tokens in enumerate(inputs):
        for token in tokens:
            if token in index:
                X[row, index[token]] += 1
        X[row, v:v + 4] = [len(tokens), len(set(tokens)), float(CONVERSION_TOKEN in tokens),
                           float(len(tokens) > 1 and tokens[-1] == tokens[-2])]
        for k in range(1, LEGACY_LAST_STEPS + 1):
            X[row, v + 3 + k] = index.get(tokens[-k], np.nan) if len(tokens) >= k else np.nan
        X[row, v + 4 + LEGACY_LAST_STEPS] = index.get(tokens[0], np.nan)
    return X
