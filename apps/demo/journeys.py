"""One demo customer's cross-channel journey around their real call history.

The calls (intent code, time) come from the shared intents data set unchanged; everything
around them is drawn from a per-customer random stream, so a customer's events do not depend on
how many other customers are generated.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from apps.demo import catalog as c
from apps.demo.sources import Call, TouchpointRow

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WINDOW_START_MS = 1_604_275_200_000  # 2020-11-02 00:00 UTC, the first day of the call data
HORIZON_MS = 1_640_908_800_000  # 2021-12-31 00:00 UTC, nothing is generated after it
MERCHANTS = ("TechMart Online", "FastFuel", "GlobalAir Tickets", "QuickEats", "StreamPlus", "LuxWatch Store")


@dataclass(frozen=True)
class Identity:
    customer_id: str
    id_prefix: str  # event ids are `<prefix>-<customer>-<n>`; the prefix names non-default seeds
    phone: str
    email: str
    account_id: str
    age: int
    deposit: bool
    risky: bool  # shares an identifier with another customer


@dataclass
class _Journey:
    """Accumulates records; event ids follow creation order, which is fixed by the random stream."""

    who: Identity
    rng: random.Random
    records: list[dict[str, Any]] = field(default_factory=list)
    scores: list[int] = field(default_factory=list)
    complaints: int = 0
    open_complaints: int = 0
    conversions: int = 0

    def add(self, event_type: str, channel: str, ts: int, *, intent: str | None = None,
            outcome: str | None = None, topic: str | None = None, **attributes: Any) -> dict[str, Any]:
        record: dict[str, Any] = {"customer_id": self.who.customer_id,
                                  "event_id": f"{self.who.id_prefix}-{self.who.customer_id}-{len(self.records):03d}",
                                  "event_type": event_type, "channel": channel, "timestamp": int(ts)}
        record.update(self._identifiers(channel, attributes.get("verification")))
        if intent:
            record["intent"] = intent
        if outcome:
            record["outcome"] = outcome
        if topic:
            record["topic"] = topic
        record.update(attributes)
        self.records.append(record)
        return record

    def _identifiers(self, channel: str, verification: str | None) -> dict[str, str]:
        """Each channel knows the customer by what it would really see."""
        if channel == "voice":
            known = {"phone": self.who.phone}
            if verification == "passed":
                known["account_id"] = self.who.account_id
            return known
        if channel in ("chat", "email"):
            return {"email": self.who.email}
        return {"account_id": self.who.account_id}

    def uniform(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def last_ts(self) -> int:
        return max((r["timestamp"] for r in self.records), default=0)


def _weighted(rng: random.Random, options: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _episodes(calls: Sequence[Call]) -> list[tuple[str, list[Call]]]:
    """Split calls into episodes: a `_NE` call opens one for its intent, later calls extend it."""
    episodes: list[tuple[str, list[Call]]] = []
    open_by_code: dict[str, list[Call]] = {}
    for call in calls:
        code = call.item_id.split("_", 1)[0]
        if call.item_id.endswith("_NE") or code not in open_by_code:
            open_by_code[code] = []
            episodes.append((code, open_by_code[code]))
        open_by_code[code].append(call)
    return episodes


def build_journey(*, who: Identity, calls: Sequence[Call], touchpoint: TouchpointRow, tokens: tuple[str, ...],
                  rng: random.Random) -> list[dict[str, Any]]:
    journey = _Journey(who=who, rng=rng)
    pages = [c.page_for_token(t, tokens) for t in touchpoint.observed + touchpoint.following]
    applied = "visit" in touchpoint.observed + touchpoint.following
    for code, episode in _episodes(calls):
        _episode(journey, c.PRODUCTS[code], episode, pages, applied)
    if not calls:
        _browse(journey, journey.uniform(WINDOW_START_MS, HORIZON_MS - 120 * DAY), pages[:3], "app")
    churn_ts = _churn_time(journey)
    end = churn_ts or HORIZON_MS
    if journey.chance(0.2 if who.risky else 0.07):
        _dispute(journey, journey.uniform(WINDOW_START_MS, end - DAY))
    _engagement(journey, pages, end)
    if churn_ts and journey.chance(0.5):
        channel = _weighted(rng, (("web", 0.4), ("voice", 0.3), ("email", 0.3)))
        reason = "complaint" if journey.complaints else _weighted(rng, (("fees", 0.4), ("moved_bank", 0.4),
                                                                        ("other", 0.2)))
        journey.add(c.CHURNED, channel, churn_ts, outcome="account_closed", reason=reason)
    return journey.records


def _preferred_channel(journey: _Journey) -> str:
    app_share = 0.75 if journey.who.age < 40 else 0.3 if journey.who.age >= 60 else 0.55
    return "app" if journey.chance(app_share) else "web"


def _browse(journey: _Journey, start: int, pages: Sequence[str], channel: str, topic: str | None = None) -> int:
    """A browsing session: a run of page events a few minutes apart; returns the last timestamp."""
    session = f"s-{journey.who.customer_id}-{len(journey.records):03d}"
    ts = start
    for page in pages:
        journey.add(page, channel, ts, topic=topic if page not in c.GENERIC_PAGES else None, session_id=session)
        ts += journey.uniform(20_000, 5 * MINUTE)
    return ts


def _episode(journey: _Journey, product: c.Product, calls: list[Call], pages: list[str], applied: bool) -> None:
    first = calls[0].ts_ms
    if journey.chance(0.7):
        before = [p for p in pages[:2] if p != c.APPLICATION_STARTED] + [product.pages[0]]
        if journey.chance(0.6):
            before.append(product.pages[1])
        if applied and journey.chance(0.5):
            before.append(c.APPLICATION_STARTED)
        _browse(journey, first - journey.uniform(HOUR, 3 * DAY), before, _preferred_channel(journey), product.topic)
    complained = False
    for step, call in enumerate(calls, 1):
        complained |= _call(journey, product, call, step)
        if step == 3:
            _maybe_convert(journey, product, call, calls[3] if len(calls) > 3 else None, applied, complained)


def _call(journey: _Journey, product: c.Product, call: Call, step: int) -> bool:
    """The real call, then what follows it; returns whether it led to a complaint."""
    outcome = _weighted(journey.rng, c.CALL_OUTCOMES)
    verification = _verify(journey, call.ts_ms, product.topic)
    record = journey.add(f"{c.CALL_PREFIX}{product.topic}", "voice", call.ts_ms, intent=call.item_id,
                         outcome=outcome, topic=product.topic, step=step,
                         duration_s=journey.uniform(90, 1500 if outcome != "abandoned" else 240),
                         verification=verification)
    ts = call.ts_ms + record["duration_s"] * 1000
    unresolved = outcome == "abandoned"
    if outcome in ("transferred", "callback_requested"):
        ts += journey.uniform(2 * HOUR, 2 * DAY)
        chat_outcome = "resolved" if journey.chance(0.7) else "unresolved"
        unresolved = chat_outcome == "unresolved"
        journey.add(c.CHAT_FOLLOW_UP, "chat", ts, outcome=chat_outcome, topic=product.topic)
    elif journey.chance(0.12):
        ts += journey.uniform(10 * MINUTE, DAY)
        journey.add(c.EMAIL_FOLLOW_UP, "email", ts, outcome="sent", topic=product.topic)
    complained = journey.chance(0.45 if unresolved else 0.02)
    if complained:
        ts += journey.uniform(HOUR, 3 * DAY)
        channel = _weighted(journey.rng, (("email", 0.5), ("chat", 0.3), ("voice", 0.2)))
        reason = _weighted(journey.rng, (("long_wait", 0.4), ("not_resolved", 0.4), ("fees", 0.2)))
        outcome = "resolved" if journey.chance(0.6) else "open"
        journey.add(c.COMPLAINT, channel, ts, outcome=outcome, topic=product.topic, reason=reason)
        journey.complaints += 1
        journey.open_complaints += outcome == "open"
    if journey.chance(0.6 if complained else 0.3):
        _survey(journey, ts + journey.uniform(HOUR, DAY), product.topic, "complaint" if complained else outcome,
                record["event_id"])
    return complained


SCORE_WEIGHTS = {
    "resolved": (0.02, 0.04, 0.12, 0.37, 0.45),
    "transferred": (0.1, 0.2, 0.3, 0.25, 0.15),
    "callback_requested": (0.1, 0.2, 0.3, 0.25, 0.15),
    "abandoned": (0.35, 0.3, 0.2, 0.1, 0.05),
    "complaint": (0.5, 0.3, 0.15, 0.05, 0.0),
}


def _survey(journey: _Journey, ts: int, topic: str, experience: str, about: str) -> None:
    score = journey.rng.choices((1, 2, 3, 4, 5), weights=SCORE_WEIGHTS[experience])[0]
    journey.scores.append(score)
    channel = "email" if journey.chance(0.7) else "app"
    journey.add(c.SURVEY, channel, ts, topic=topic, survey="csat", score=score, about_event=about)


def _maybe_convert(journey: _Journey, product: c.Product, third: Call, fourth: Call | None, applied: bool,
                   complained: bool) -> None:
    rate = product.conversion_rate * (1.3 if applied else 1.0) * (1.2 if journey.who.deposit else 1.0)
    if complained:
        rate *= 0.4
    if not journey.chance(min(rate, 0.95)):
        return
    gap = (fourth.ts_ms - third.ts_ms) // 2 if fourth else journey.uniform(HOUR, 5 * DAY)
    journey.add(product.conversion, product.conversion_channel, third.ts_ms + max(gap, 30 * MINUTE),
                outcome="converted", topic=product.topic)
    journey.conversions += 1


def _churn_time(journey: _Journey) -> int | None:
    """Churners leave some weeks after their last contact; unhappy customers leave more often."""
    last = journey.last_ts()
    if not last or last > HORIZON_MS - 90 * DAY:
        return None
    p = 0.05 + 0.1 * bool(journey.complaints) + 0.25 * bool(journey.open_complaints)
    p += 0.15 * any(s <= 2 for s in journey.scores)
    p += 0.03 * (not journey.conversions)
    return last + journey.uniform(7 * DAY, 45 * DAY) if journey.chance(p) else None


def _dispute(journey: _Journey, start: int) -> None:
    """A card-dispute journey: checking transactions in the app, locking the card, lodging a dispute."""
    merchant = journey.rng.choice(MERCHANTS)
    amount = round(journey.uniform(2_000, 250_000) / 100, 2)
    ts = start
    if journey.chance(0.85):
        session = f"s-{journey.who.customer_id}-{len(journey.records):03d}"
        for step in c.DISPUTE_STEPS:
            outcome = "locked" if step == "card_locked" else None
            journey.add(step, "app", ts, topic=c.FRAUD_DISPUTE if step != "view_transactions" else None,
                        outcome=outcome, session_id=session, merchant=merchant, amount=amount)
            ts += journey.uniform(30_000, 3 * MINUTE)
    channel = "voice" if journey.chance(0.7) else "chat"
    ts += journey.uniform(10 * MINUTE, 6 * HOUR)
    extra = {"verification": _verify(journey, ts, c.FRAUD_DISPUTE, fail_rate=0.15)} if channel == "voice" else {}
    event_type = c.DISPUTE_CALL if channel == "voice" else c.DISPUTE_CHAT
    journey.add(event_type, channel, ts, intent=c.FRAUD_DISPUTE_INTENT, outcome="dispute_lodged",
                topic=c.FRAUD_DISPUTE, merchant=merchant, amount=amount, **extra)


def _verify(journey: _Journey, call_ts: int, topic: str, fail_rate: float | None = None) -> str:
    """The identity check at the start of a call; a failure is also logged as its own event, which
    is what the risk decision counts (customers sharing a phone fail far more often)."""
    if fail_rate is None:
        fail_rate = 0.2 if journey.who.risky else 0.03
    if not journey.chance(fail_rate):
        return "passed"
    method = "voice_id" if journey.chance(0.5) else "security_questions"
    journey.add(c.VERIFICATION, "voice", call_ts - journey.uniform(20_000, 2 * MINUTE), outcome="failed",
                topic=topic, method=method)
    return "failed"


def _engagement(journey: _Journey, pages: list[str], end: int) -> None:
    """Everyday log-ins between first contact and the end (churn or horizon): what silence is measured against."""
    first = min((r["timestamp"] for r in journey.records), default=end)
    ts = max(WINDOW_START_MS, first - journey.uniform(5 * DAY, 40 * DAY))
    generic = [p for p in pages if p in c.GENERIC_PAGES] or ["view_balance"]
    turn = 0
    while True:
        ts += journey.uniform(30 * DAY, 90 * DAY)
        if ts >= end:
            return
        _browse(journey, ts, [c.LOGIN, generic[turn % len(generic)]], _preferred_channel(journey))
        turn += 1
