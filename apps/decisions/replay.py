"""Replay a day of calls through the Connect Lambda handler against a running hub.

For each call of the day, in time order, the handler is invoked with a real Connect event (intent,
then risk), the prediction is compared with what the caller actually called about, and the actual
intent is sent back as feedback (the caller confirmed or chose it), exactly as a flow would. The
report puts the routing mix and accuracy beside two baselines: the popularity predictor and a flow
without predictions (everyone gets the menu).
"""
from __future__ import annotations

import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from apps.decisions.modeling.intent import PopularityModel, examples
from apps.events.services import EventCopy
from graph import journeys
from graph import schema as graph_schema

Invoke = Callable[[dict[str, Any]], dict[str, str]]
DAY_MS = 86_400_000


@dataclass(frozen=True)
class ReplayCall:
    customer_id: str
    phone: str
    ts: int
    intent: str
    contact_id: str


def phone_for(customer_id: str) -> str:
    """A stable, possible E.164 number for a data-set customer that has none (+1 555 …)."""
    digits = "".join(c for c in customer_id if c.isdigit())[-7:] or str(zlib.crc32(customer_id.encode()) % 10**7)
    return f"+1555{int(digits):07d}"


def pick_day(calls: pd.DataFrame, holdout: float = 0.15) -> date:
    """The busiest day in the latest `holdout` share of the calls (the part a model trains without)."""
    cut = calls["ts"].quantile(1.0 - holdout)
    late = calls[calls["ts"] >= cut]
    days = pd.to_datetime(late["ts"], unit="ms", utc=True).dt.date
    counts = days.value_counts()
    return sorted(counts.index, key=lambda d: (-counts[d], d))[0]


def split_day(calls: pd.DataFrame, day: date) -> tuple[pd.DataFrame, list[ReplayCall]]:
    """(history before the day, the day's calls in time order)."""
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    history = calls[calls["ts"] < start]
    today = calls[(calls["ts"] >= start) & (calls["ts"] < start + DAY_MS)].sort_values(["ts", "customer_id"])
    replay = [ReplayCall(str(r.customer_id), phone_for(str(r.customer_id)), int(r.ts), str(r.intent),
                         f"replay-{uuid.uuid4()}") for r in today.itertuples()]
    return history.reset_index(drop=True), replay


def seed_history(history: pd.DataFrame, customers: set[str], *, chunk: int = 2000) -> int:
    """Write the earlier calls of the day's callers into the graph (what the hub knows that morning).
    A `duration_s` column, when the history has one, becomes each call's duration (what the risk model
    reads from a caller's earlier calls)."""
    mine = history[history["customer_id"].isin(customers)]
    timed = "duration_s" in mine.columns
    records = [graph_schema.EventRecord(
        event_id=f"replay-{r.customer_id}-{r.ts}", type="call", channel="voice", ts=int(r.ts),
        customer_id=str(r.customer_id), identifiers=(("phone", phone_for(str(r.customer_id))),),
        source="replay_history", intent=str(r.intent),
        attributes={"duration_s": int(r.duration_s)} if timed else {}) for r in mine.itertuples()]
    copy = EventCopy("")  # the event store's copy, written after the graph chunks commit
    for start in range(0, len(records), chunk):
        part = records[start:start + chunk]
        copy.add(part, journeys.write_events(part))
    copy.flush()
    return len(records)


def connect_event(call: ReplayCall, parameters: dict[str, str]) -> dict[str, Any]:
    """The event Amazon Connect sends a Lambda from an inbound voice flow."""
    return {
        "Name": "ContactFlowEvent",
        "Details": {
            "ContactData": {
                "Attributes": {}, "Channel": "VOICE", "ContactId": call.contact_id,
                "CustomerEndpoint": {"Address": call.phone, "Type": "TELEPHONE_NUMBER"},
                "InitialContactId": call.contact_id, "InitiationMethod": "INBOUND",
                "InstanceARN": "arn:aws:connect:us-east-1:123456789012:instance/replay",
                "PreviousContactId": call.contact_id, "Queue": None,
                "SystemEndpoint": {"Address": "+18005550100", "Type": "TELEPHONE_NUMBER"},
            },
            "Parameters": parameters,
        },
    }


@dataclass
class ReplayReport:
    day: str
    calls: int = 0
    intent_mix: dict[str, int] = field(default_factory=dict)
    risk_mix: dict[str, int] = field(default_factory=dict)
    top1: float = 0.0
    top3: float = 0.0
    band_precision: dict[str, float] = field(default_factory=dict)
    fallbacks: dict[str, int] = field(default_factory=dict)
    handler_ms: dict[str, float] = field(default_factory=dict)
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "rows"}


def replay_day(calls: list[ReplayCall], *, invoke: Invoke, history: pd.DataFrame, day: str, risk: bool = True,
               feedback: bool = True, before_call: Callable[[int], None] | None = None) -> ReplayReport:
    """Run every call through `invoke` (the Lambda handler) and score the answers."""
    rows = []
    for n, call in enumerate(calls):
        if before_call is not None:
            before_call(n)
        rows.append(_one_call(call, invoke, risk=risk, feedback=feedback))
    return _report(rows, calls, history, day)


def _one_call(call: ReplayCall, invoke: Invoke, *, risk: bool, feedback: bool) -> dict[str, Any]:
    at = {"at_ms": str(call.ts)}
    started = time.perf_counter()
    answer = invoke(connect_event(call, {"decision": "intent", **at}))
    row: dict[str, Any] = {"contact_id": call.contact_id, "customer_id": call.customer_id, "actual": call.intent,
                           "action": answer.get("action", ""), "predicted": answer.get("intent", ""),
                           "alternatives": [answer.get(f"alternative_{n}", "") for n in (1, 2, 3)],
                           "intent_source": answer.get("source", ""),
                           "handler_ms": (time.perf_counter() - started) * 1000}
    if risk:
        verdict = invoke(connect_event(call, {"decision": "risk", **at}))
        row.update({"outcome": verdict.get("outcome", ""), "risk_source": verdict.get("source", "")})
    if feedback:
        invoke(connect_event(call, {"decision": "feedback", "intent": call.intent, **at}))
    return row


def _report(rows: list[dict[str, Any]], calls: list[ReplayCall], history: pd.DataFrame, day: str) -> ReplayReport:
    report = ReplayReport(day=day, calls=len(rows), rows=rows)
    if not rows:
        return report
    hit1 = [r["predicted"] == r["actual"] for r in rows]
    hit3 = [r["actual"] in [r["predicted"], *r["alternatives"][:2]] for r in rows]
    report.top1, report.top3 = _mean(hit1), _mean(hit3)
    report.intent_mix = dict(Counter(r["action"] for r in rows))
    report.risk_mix = dict(Counter(r.get("outcome", "") for r in rows if "outcome" in r))
    report.band_precision = {a: _mean([h for h, r in zip(hit1, rows, strict=True) if r["action"] == a])
                             for a in ("confirm", "suggest")}
    report.fallbacks = {"intent": sum(r["intent_source"] == "fallback" for r in rows),
                        "risk": sum(r.get("risk_source") == "fallback" for r in rows)}
    latencies = np.array([r["handler_ms"] for r in rows])
    report.handler_ms = {"p50": round(float(np.percentile(latencies, 50)), 2),
                         "p99": round(float(np.percentile(latencies, 99)), 2)}
    report.baselines = _baselines(calls, history)
    return report


def _baselines(calls: list[ReplayCall], history: pd.DataFrame) -> dict[str, dict[str, Any]]:
    popularity = PopularityModel().fit(examples(history)) if len(history) else PopularityModel()
    ranked = [item for item, _ in popularity.rank([], None, k=3)]
    return {
        "popularity": {"top1": _mean([bool(ranked) and c.intent == ranked[0] for c in calls]),
                       "top3": _mean([c.intent in ranked for c in calls])},
        "menu_for_everyone": {"intent_mix": {"menu": len(calls)}, "top1": 0.0, "top3": 0.0},
    }


def _mean(values: list[bool]) -> float:
    return round(float(np.mean(values)), 4) if values else 0.0


def parse_day(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as exc:
        raise ValueError(f"--day {text!r} must look like 2021-10-31") from exc
