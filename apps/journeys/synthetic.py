"""Synthetic journeys in the canonical frame shape, for benchmarks and load tests.

Types follow a fixed Markov chain (so funnels and paths have structure, not noise); each customer's
timestamps strictly increase, so every ordering of the log is unambiguous.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

TYPES = ("web_visit", "search", "product_view", "cart", "checkout", "purchase", "call", "chat", "email_open",
         "sms_reply", "complaint", "resolved")
CHANNELS = {"web_visit": "web", "search": "web", "product_view": "app", "cart": "web", "checkout": "web",
            "purchase": "web", "call": "phone", "chat": "chat", "email_open": "email", "sms_reply": "sms",
            "complaint": "phone", "resolved": "phone"}
BASE_TS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _transitions(rng: np.random.Generator) -> np.ndarray:
    n = len(TYPES)
    matrix = rng.dirichlet(np.full(n, 0.3), size=n)
    funnel = [TYPES.index(t) for t in ("web_visit", "product_view", "cart", "checkout", "purchase")]
    for a, b in zip(funnel, funnel[1:], strict=False):
        matrix[a] = 0.6 * matrix[a] + 0.4 * np.eye(n)[b]
    return np.cumsum(matrix, axis=1)


def synthetic_frame(*, n_events: int, n_customers: int, seed: int = 0) -> pd.DataFrame:
    """About `n_events` events over exactly `n_customers` customers, sorted like events_frame()."""
    rng = np.random.default_rng(seed)
    lengths = 1 + rng.multinomial(n_events - n_customers, np.full(n_customers, 1 / n_customers))
    cumulative = _transitions(rng)
    max_len = int(lengths.max())
    tokens = np.full((n_customers, max_len), -1, dtype=np.int64)
    tokens[:, 0] = rng.integers(0, len(TYPES), n_customers)
    for pos in range(1, max_len):
        alive = lengths > pos
        prev = tokens[alive, pos - 1]
        u = rng.random(int(alive.sum()))
        tokens[alive, pos] = np.minimum((cumulative[prev] < u[:, None]).sum(axis=1), len(TYPES) - 1)
    cust = np.repeat(np.arange(n_customers), lengths)
    tok = tokens[tokens >= 0]
    gaps = rng.integers(60_000, 3 * 86_400_000, len(cust))
    starts = BASE_TS + rng.integers(0, 60 * 86_400_000, n_customers)
    run_start = np.repeat(np.cumsum(lengths) - lengths, lengths)
    cum = np.cumsum(gaps)
    ts = starts[cust] + cum - cum[run_start]
    types = np.asarray(TYPES, dtype=object)[tok]
    return pd.DataFrame({
        "customer_id": np.char.add("c", np.char.zfill(cust.astype(str), 6)).astype(object),
        "event_id": np.char.add("e", np.arange(len(cust)).astype(str)).astype(object),
        "type": types, "channel": np.vectorize(CHANNELS.get, otypes=[object])(types),
        "ts": ts.astype(np.int64), "intent": None, "outcome": None, "attributes": [{}] * len(cust)})
