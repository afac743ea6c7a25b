"""Journey similarity: Jaccard similarity of n-gram shingle sets, answered from an inverted index.

An exact scan of the inverted index (posting list per shingle, intersections by bincount) is fast
enough for a hundred thousand journeys and has recall 1.0, so it is the default. MinHash LSH
(datasketch) is only an optional candidate generator for data too large for the exact scan; its
candidates are still re-ranked exactly. The index takes updates as events arrive: a customer's new
sequence gets a fresh slot and the old slot is retired, so queries stay exact without a rebuild.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Shingle = tuple[str, ...]
DEFAULT_SIZES = (1, 2, 3)


@dataclass(frozen=True)
class SimilarJourney:
    customer_id: str
    score: float  # Jaccard similarity of the shingle sets
    journey: tuple[str, ...]
    shared: tuple[tuple[str, ...], ...]  # maximal shared sub-sequences, longest first


@dataclass(frozen=True)
class SimilarityResult:
    query: tuple[str, ...]
    threshold: float
    similar_customers: int  # customers (other than the query customer) scoring >= threshold
    top: tuple[SimilarJourney, ...]


def shingles(sequence: Sequence[str], sizes: Iterable[int] = DEFAULT_SIZES) -> set[Shingle]:
    """Contiguous n-grams of the given sizes: order matters locally, exact position does not."""
    seq = tuple(sequence)
    return {seq[i:i + n] for n in sizes for i in range(len(seq) - n + 1)}


def shared_subsequences(a: set[Shingle], b: set[Shingle]) -> tuple[Shingle, ...]:
    """Shingles both journeys have, minus those contained in a longer shared one."""
    common = a & b
    covered = {o[i:j] for o in common for i in range(len(o)) for j in range(i + 1, len(o) + 1) if j - i < len(o)}
    return tuple(sorted(common - covered, key=lambda s: (-len(s), s)))


def _validate(threshold: float, k: int) -> None:
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


class ShingleIndex:
    """Inverted index from shingle to the slots (customer journeys) that contain it."""

    def __init__(self, sizes: Sequence[int] = DEFAULT_SIZES, *, lsh_perms: int | None = None,
                 lsh_threshold: float = 0.3) -> None:
        self.sizes = tuple(sizes)
        self._vocab: dict[Shingle, int] = {}
        self._names: list[Shingle] = []
        self._postings: dict[int, list[int]] = {}
        self._arrays: dict[int, np.ndarray] = {}
        self._slot_of: dict[str, int] = {}
        self._customer: list[str] = []
        self._seq: list[tuple[str, ...]] = []
        self._sets: list[frozenset[int]] = []
        self._sizes: list[int] = []
        self._alive: list[bool] = []
        self._cached: tuple[np.ndarray, np.ndarray] | None = None  # (alive, sizes) as arrays
        self._lsh = _Lsh(lsh_perms, lsh_threshold) if lsh_perms else None

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self._slot_of

    @classmethod
    def build(cls, sequences: Mapping[str, Sequence[str]], **kwargs: Any) -> ShingleIndex:
        index = cls(**kwargs)
        for customer_id, sequence in sequences.items():
            index.update(customer_id, sequence)
        index.warm()
        return index

    def warm(self) -> None:
        """Materialise every posting list as an array now, so no query pays for it later."""
        for sid in self._postings:
            self._posting(sid)
        self._cached = (np.asarray(self._alive, dtype=bool), np.asarray(self._sizes, dtype=np.int64))

    def journey(self, customer_id: str) -> tuple[str, ...]:
        if customer_id not in self._slot_of:
            raise KeyError(f"customer {customer_id!r} has no journey in the similarity index")
        return self._seq[self._slot_of[customer_id]]

    def update(self, customer_id: str, sequence: Sequence[str]) -> None:
        """Make `sequence` the customer's journey (new customers are added, old slots retired)."""
        old = self._slot_of.get(customer_id)
        if old is not None:
            if self._seq[old] == tuple(sequence):
                return
            self._alive[old] = False
        slot = len(self._customer)
        ids = frozenset(self._shingle_id(s) for s in shingles(sequence, self.sizes))
        self._customer.append(customer_id)
        self._seq.append(tuple(sequence))
        self._sets.append(ids)
        self._sizes.append(len(ids))
        self._alive.append(True)
        self._slot_of[customer_id] = slot
        self._cached = None
        for sid in ids:
            self._postings[sid].append(slot)
            self._arrays.pop(sid, None)
        if self._lsh is not None:
            self._lsh.update(slot, old, [self._names[s] for s in ids])

    def _shingle_id(self, shingle: Shingle) -> int:
        sid = self._vocab.get(shingle)
        if sid is None:
            sid = self._vocab[shingle] = len(self._names)
            self._names.append(shingle)
            self._postings[sid] = []
        return sid

    def _posting(self, sid: int) -> np.ndarray:
        array = self._arrays.get(sid)
        if array is None:
            array = self._arrays[sid] = np.asarray(self._postings[sid], dtype=np.int32)
        return array

    def query(self, *, customer_id: str | None = None, sequence: Sequence[str] | None = None,
              threshold: float = 0.5, k: int = 10, use_lsh: bool = False) -> SimilarityResult:
        """Customers whose journeys are most similar to a customer's or to an explicit sequence."""
        _validate(threshold, k)
        if (customer_id is None) == (sequence is None):
            raise ValueError("give either customer_id or sequence")
        exclude = -1
        if customer_id is not None:
            sequence = self.journey(customer_id)
            exclude = self._slot_of[customer_id]
        query_seq = tuple(sequence or ())
        query_set = shingles(query_seq, self.sizes)
        known = [self._vocab[s] for s in query_set if s in self._vocab]
        slots, scores = self._scores(known, len(query_set), exclude, use_lsh, query_set)
        over = scores >= threshold
        slots, scores = slots[over], scores[over]
        top = self._top(slots, scores, k)
        return SimilarityResult(query=query_seq, threshold=threshold, similar_customers=int(len(slots)),
                                top=tuple(self._describe(slot, score, query_set) for slot, score in top))

    def _scores(self, known: list[int], query_size: int, exclude: int, use_lsh: bool,
                query_set: set[Shingle]) -> tuple[np.ndarray, np.ndarray]:
        if not known:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        n_slots = len(self._customer)
        postings = [self._posting(s) for s in known]
        inter = np.bincount(np.concatenate(postings), minlength=n_slots)
        if use_lsh and self._lsh is not None:
            mask = np.zeros(n_slots, dtype=bool)
            mask[list(self._lsh.candidates(query_set))] = True
            inter = np.where(mask, inter, 0)
        if self._cached is None:
            self._cached = (np.asarray(self._alive, dtype=bool), np.asarray(self._sizes, dtype=np.int64))
        alive, sizes = self._cached
        hit = (inter > 0) & alive
        if exclude >= 0:
            hit[exclude] = False
        slots = np.flatnonzero(hit)
        union = query_size + sizes[slots] - inter[slots]
        return slots, inter[slots] / union

    def _top(self, slots: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k best by score, ties broken by customer id (so results never depend on slot order)."""
        if len(slots) > k:
            kth = np.partition(scores, len(scores) - k)[len(scores) - k]
            keep = scores >= kth
            slots, scores = slots[keep], scores[keep]
        ranked = sorted(zip(slots.tolist(), scores.tolist(), strict=True),
                        key=lambda p: (-p[1], self._customer[p[0]]))
        return ranked[:k]

    def _describe(self, slot: int, score: float, query_set: set[Shingle]) -> SimilarJourney:
        theirs = {self._names[s] for s in self._sets[slot]}
        return SimilarJourney(customer_id=self._customer[slot], score=round(score, 6), journey=self._seq[slot],
                              shared=shared_subsequences(query_set, theirs))


def brute_force(sequences: Mapping[str, Sequence[str]], *, query: Sequence[str], exclude: str | None = None,
                threshold: float = 0.5, k: int = 10, sizes: Sequence[int] = DEFAULT_SIZES
                ) -> list[tuple[str, float]]:
    """Reference answer: score every journey; used to prove the index exact."""
    _validate(threshold, k)
    q = shingles(query, sizes)
    scored = []
    for customer_id, sequence in sequences.items():
        s = shingles(sequence, sizes)
        union = len(q | s)
        score = len(q & s) / union if union else 0.0
        if customer_id != exclude and score >= threshold:
            scored.append((customer_id, score))
    scored.sort(key=lambda p: (-p[1], p[0]))
    return scored


class _Lsh:
    """MinHash LSH candidate generator (approximate: recall < 1, so only for very large indexes)."""

    def __init__(self, perms: int, threshold: float) -> None:
        from datasketch import MinHashLSH

        self.perms = perms
        self.lsh = MinHashLSH(threshold=threshold, num_perm=perms)

    def _minhash(self, items: Iterable[Shingle]) -> Any:
        from datasketch import MinHash

        mh = MinHash(num_perm=self.perms)
        for item in items:
            mh.update("\x1f".join(item).encode())
        return mh

    def update(self, slot: int, old: int | None, items: list[Shingle]) -> None:
        if old is not None and old in self.lsh:
            self.lsh.remove(old)
        if items:
            self.lsh.insert(slot, self._minhash(items))

    def candidates(self, items: Iterable[Shingle]) -> set[int]:
        return set(self.lsh.query(self._minhash(items)))
