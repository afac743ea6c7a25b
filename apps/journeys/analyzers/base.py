"""Shared encoding of the events frame into numpy arrays, the common input of every analyzer.

Analyzers work on integer codes (customer, token) and per-customer positions because numpy over
codes is what keeps a million events under the speed targets; labels come back only at the end.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

EVENT_COLUMNS = ("customer_id", "event_id", "type", "channel", "ts", "intent", "outcome", "attributes")
SEPARATOR = "@"


@dataclass(frozen=True)
class CleaningRule:
    """A path-cleaning rule: every token matching `pattern` is rewritten to `replacement`."""

    pattern: str
    replacement: str


@dataclass(frozen=True)
class Encoded:
    """The frame as arrays, rows in journey order: customer code, token code, ts and position."""

    customers: np.ndarray  # customer ids by code
    labels: np.ndarray  # token labels by code
    cust: np.ndarray  # int64 customer code per row
    tok: np.ndarray  # int64 token code per row
    ts: np.ndarray  # int64 epoch ms per row
    pos: np.ndarray  # int64 position of the row within its customer's journey (0-based)
    channel: np.ndarray  # channel label per row (object)

    @property
    def n_customers(self) -> int:
        return len(self.customers)

    def code_of(self, label: str) -> int:
        """The code of a token label, or -1 when no event carries it."""
        hits = np.flatnonzero(self.labels == label)
        return int(hits[0]) if len(hits) else -1


def check_frame(frame: pd.DataFrame) -> None:
    """Fail with the missing column names rather than a KeyError deep inside an analyzer."""
    missing = [c for c in ("customer_id", "type", "channel", "ts") if c not in frame.columns]
    if missing:
        raise ValueError(f"events frame is missing column(s) {', '.join(missing)}")


def journey_order(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame sorted by customer, time and event id (a no-op check when it already is)."""
    check_frame(frame)
    keys = ["customer_id", "ts"] + (["event_id"] if "event_id" in frame.columns else [])
    cust = frame["customer_id"].to_numpy()
    ts = frame["ts"].to_numpy()
    if len(frame) < 2 or _is_sorted(cust, ts):
        return frame
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def _is_sorted(cust: np.ndarray, ts: np.ndarray) -> bool:
    same = cust[1:] == cust[:-1]
    ascending = cust[1:] >= cust[:-1]
    return bool(np.all(ascending) and np.all(ts[1:][same] >= ts[:-1][same]))


def token_series(frame: pd.DataFrame, *, with_channel: bool = False) -> pd.Series:
    """Event labels: the type, or `type@channel` when channels matter to the question."""
    if with_channel:
        return frame["type"].astype(str) + SEPARATOR + frame["channel"].astype(str)
    return frame["type"].astype(str)


def compile_rules(rules: Iterable[CleaningRule | tuple[str, str]]) -> list[tuple[re.Pattern[str], str]]:
    compiled = []
    for rule in rules:
        pattern, replacement = (rule.pattern, rule.replacement) if isinstance(rule, CleaningRule) else rule
        try:
            compiled.append((re.compile(pattern), replacement))
        except re.error as exc:
            raise ValueError(f"cleaning rule pattern {pattern!r} is not a valid regular expression: {exc}") from exc
    return compiled


def clean_label(label: str, rules: Sequence[tuple[re.Pattern[str], str]]) -> str:
    for pattern, replacement in rules:
        label = pattern.sub(replacement, label)
    return label


def encode(frame: pd.DataFrame, *, with_channel: bool = False,
           rules: Iterable[CleaningRule | tuple[str, str]] = (), collapse_repeats: bool = False) -> Encoded:
    """Encode the frame; cleaning rules rewrite labels (on the distinct labels only, so they are cheap)
    and `collapse_repeats` merges consecutive equal tokens of a customer into one step."""
    frame = journey_order(frame)
    cust, customers = runs(frame["customer_id"].to_numpy(dtype=object))
    tok, labels_arr = _codes(token_series(frame, with_channel=with_channel).to_numpy(dtype=object))
    compiled = compile_rules(rules)
    if compiled:
        cleaned = np.array([clean_label(str(label), compiled) for label in labels_arr], dtype=object)
        remap, labels_arr = _codes(cleaned)
        tok = remap[tok]
    ts = frame["ts"].to_numpy(dtype=np.int64)
    channel = frame["channel"].to_numpy(dtype=object)
    if collapse_repeats and len(cust):
        keep = np.ones(len(cust), dtype=bool)
        keep[1:] = (cust[1:] != cust[:-1]) | (tok[1:] != tok[:-1])
        cust, tok, ts, channel = cust[keep], tok[keep], ts[keep], channel[keep]
    return Encoded(customers=customers, labels=labels_arr, cust=cust, tok=tok, ts=ts, pos=positions(cust),
                   channel=channel)


def runs(customer_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes for customer ids that arrive grouped and sorted: a new code at every change, which is
    much cheaper than hashing a hundred thousand distinct strings."""
    n = len(customer_ids)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
    change = np.ones(n, dtype=bool)
    change[1:] = customer_ids[1:] != customer_ids[:-1]
    return np.cumsum(change, dtype=np.int64) - 1, customer_ids[change]


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes numbered in sorted label order, so ties elsewhere break alphabetically."""
    codes, uniques = pd.factorize(values, sort=False)
    uniques = np.asarray(uniques, dtype=object)
    order = np.argsort(uniques.astype(str), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes].astype(np.int64), uniques[order]


def positions(cust: np.ndarray) -> np.ndarray:
    """0-based position of each row within its customer's run (rows grouped by customer)."""
    n = len(cust)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.ones(n, dtype=bool)
    starts[1:] = cust[1:] != cust[:-1]
    start_idx = np.flatnonzero(starts)
    run_start = np.repeat(start_idx, np.diff(np.append(start_idx, n)))
    return np.arange(n, dtype=np.int64) - run_start


def filter_frame(frame: pd.DataFrame, *, since_ms: int | None = None, until_ms: int | None = None,
                 channels: Iterable[str] | None = None, customer_ids: Iterable[str] | None = None,
                 event_types: Iterable[str] | None = None) -> pd.DataFrame:
    """Keep events in [since_ms, until_ms), on the given channels / types, of the given customers.

    Customer-level filters (segment, attribute, milestone reached) are resolved to customer ids by the
    selectors, so this stays a pure function of the frame."""
    mask = np.ones(len(frame), dtype=bool)
    if since_ms is not None:
        mask &= frame["ts"].to_numpy() >= since_ms
    if until_ms is not None:
        mask &= frame["ts"].to_numpy() < until_ms
    if channels is not None:
        mask &= frame["channel"].isin(list(channels)).to_numpy()
    if event_types is not None:
        mask &= frame["type"].isin(list(event_types)).to_numpy()
    if customer_ids is not None:
        mask &= frame["customer_id"].isin(list(customer_ids)).to_numpy()
    return frame if mask.all() else frame[mask].reset_index(drop=True)


def sequences(frame: pd.DataFrame, *, with_channel: bool = False) -> dict[str, tuple[str, ...]]:
    """Each customer's journey as a tuple of labels, in time order."""
    enc = encode(frame, with_channel=with_channel)
    if not len(enc.cust):
        return {}
    bounds = np.flatnonzero(enc.pos == 0)[1:]
    parts = np.split(enc.labels[enc.tok], bounds)
    return {str(c): tuple(p.tolist()) for c, p in zip(enc.customers, parts, strict=True)}
