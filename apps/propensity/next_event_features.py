"""Journeys and prefix features for next_event: what any event log says about a journey so far.

A journey is one customer's (one case's) events in time order. Every prefix of every journey is an
example: its target is the type of the event that follows, or END when the journey ends there. The
features of a prefix use only the prefix (the last event's time is "now"; the time of the event being
predicted is never looked at). Functions take plain frames and lists, so the source of the events (the
graph, a file, a columnar store) can change without touching them.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

END = "<end>"
OTHER = "<other>"
MIN_TYPE_COUNT = 5  # rarer event types share one code, so the vocabulary stays that of the log's habits
LAST_STEPS = 3


@dataclass(frozen=True)
class Journey:
    key: str
    types: list[str]
    ts: list[int]
    channels: list[str]


def journeys_from_frame(events: pd.DataFrame, *, order: str = "case") -> list[Journey]:
    """Journeys from an events frame (customer_id, type, ts, channel; `row` = file order when read from
    a file). `order="case"`: in the order journeys first appear in the file (by customer id for the
    graph, which has no file order); `order="time"`: by when each journey starts."""
    if order not in ("case", "time"):
        raise ValueError(f"split must be 'case' or 'time', got {order!r}")
    if events.empty:
        return []
    frame = events.copy()
    if "row" not in frame:
        frame["row"] = np.arange(len(frame))
    tiebreak = [c for c in ("seq", "row") if c in frame]
    frame = frame.sort_values(["customer_id", "ts", *tiebreak], kind="stable")
    journeys, first = [], []
    for key, group in frame.groupby("customer_id", sort=False):
        journeys.append(Journey(key=str(key), types=[str(t) for t in group["type"]],
                                ts=[int(t) for t in group["ts"]],
                                channels=[str(c or "") for c in group["channel"]]))
        first.append((int(group["ts"].min()), str(key)) if order == "time" else
                     (int(group["row"].min()), str(key)) if "row" in events else (0, str(key)))
    ranked = sorted(range(len(journeys)), key=lambda i: first[i])
    return [journeys[i] for i in ranked]


def targets(journeys: Sequence[Journey]) -> list[str]:
    """The target of every prefix, journey after journey: the next type, END after the last event."""
    return [j.types[k + 1] if k + 1 < len(j.types) else END for j in journeys for k in range(len(j.types))]


@dataclass
class PrefixEncoder:
    """Codes for event types and channels learned from training journeys; one row per prefix."""

    types: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)

    @classmethod
    def learn(cls, journeys: Sequence[Journey]) -> PrefixEncoder:
        counts = Counter(t for j in journeys for t in j.types)
        channels = Counter(c for j in journeys for c in j.channels)
        return cls(types=sorted(t for t, n in counts.items() if n >= MIN_TYPE_COUNT) + [OTHER],
                   channels=sorted(c for c, n in channels.items() if n >= MIN_TYPE_COUNT) + [OTHER])

    def names(self) -> list[str]:
        return ([f"last_{i}" for i in range(1, LAST_STEPS + 1)] + ["first", "last_channel", "length", "distinct",
                                                                    "repeat", "log_gap_s", "log_age_s", "hour",
                                                                    "weekday"]
                + [f"count_{t}" for t in self.types])

    def categorical(self) -> list[str]:
        return [f"last_{i}" for i in range(1, LAST_STEPS + 1)] + ["first", "last_channel"]

    def code(self, token: str) -> int:
        index = self._type_index()
        return index.get(token, index[OTHER])

    def _type_index(self) -> dict[str, int]:
        cached: dict[str, int] | None = getattr(self, "_index", None)
        if cached is None:
            cached = {t: i for i, t in enumerate(self.types)}
            self._index = cached
        return cached

    def transform(self, journeys: Sequence[Journey], *, last_only: bool = False) -> np.ndarray:
        """One row per prefix (only each journey's full prefix when `last_only`)."""
        rows = [row for j in journeys for row in self._rows(j, last_only)]
        return np.asarray(rows, dtype=np.float64).reshape(-1, len(self.names()))

    def _rows(self, journey: Journey, last_only: bool) -> list[np.ndarray]:
        index = self._type_index()
        channels = {c: i for i, c in enumerate(self.channels)}
        codes = [index.get(t, index[OTHER]) for t in journey.types]
        counts = np.zeros(len(self.types))
        rows, seen = [], set()
        n = len(codes)
        for k in range(n):
            counts[codes[k]] += 1
            seen.add(codes[k])
            if last_only and k < n - 1:
                continue
            rows.append(np.concatenate([self._head(journey, codes, k, channels, len(seen)), counts]))
        return rows

    @staticmethod
    def _head(journey: Journey, codes: list[int], k: int, channels: dict[str, int], distinct: int) -> np.ndarray:
        last = [float(codes[k - i]) if k - i >= 0 else math.nan for i in range(LAST_STEPS)]
        gap = (journey.ts[k] - journey.ts[k - 1]) / 1000 if k else math.nan
        when = datetime.fromtimestamp(journey.ts[k] / 1000, tz=UTC)
        channel = channels.get(journey.channels[k], channels[OTHER])
        return np.array([*last, float(codes[0]), float(channel), float(k + 1), float(distinct),
                         float(k > 0 and codes[k] == codes[k - 1]), math.log1p(max(gap, 0.0)) if k else math.nan,
                         math.log1p(max((journey.ts[k] - journey.ts[0]) / 1000, 0.0)), float(when.hour),
                         float(when.weekday())])
