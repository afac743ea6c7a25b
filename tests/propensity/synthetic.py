"""A small seeded bank whose answers are known: complainers close their account and score surveys low."""
from __future__ import annotations

import random
from typing import Any

DAY = 86_400_000
START = 1_700_000_000_000
SPAN_DAYS = 300


def journeys(customers: int = 80, seed: int = 3) -> list[dict[str, Any]]:
    """Ingest records: everyone logs in every 5-15 days and calls now and then (a survey follows each call);
    one customer in three complains once, stops logging in, scores the next survey 1 or 2 and closes the
    account 40 days later."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for n in range(customers):
        cid = f"c{n:03d}"
        complains = n % 3 == 0
        complaint_day = rng.uniform(60, SPAN_DAYS - 50) if complains else None
        end_day = complaint_day if complaint_day else SPAN_DAYS
        day, k = rng.uniform(0, 10), 0
        while day < end_day:
            records.append(_event(cid, k, "login", rng.choice(["app", "web"]), day))
            k += 1
            if rng.random() < 0.3:
                records.append(_event(cid, k, "call_account", "voice", day + 0.1, outcome="resolved"))
                records.append(_event(cid, k + 1, "survey_response", "email", day + 0.5, score=rng.choice([4, 5])))
                k += 2
            day += rng.uniform(5, 15)
        if complaint_day is not None:
            records.append(_event(cid, k, "complaint", "voice", complaint_day, outcome="escalated"))
            records.append(_event(cid, k + 1, "survey_response", "email", complaint_day + 1, score=rng.choice([1, 2])))
            records.append(_event(cid, k + 2, "churned", "web", complaint_day + 40, outcome="account_closed"))
    return records


def _event(cid: str, k: int, kind: str, channel: str, day: float, outcome: str | None = None,
           **attributes: Any) -> dict[str, Any]:
    record = {"customer_id": cid, "event_id": f"{cid}-{k:03d}", "event_type": kind, "channel": channel,
              "timestamp": START + int(day * DAY), "phone": f"+614120{int(cid[1:]):05d}"}
    if outcome:
        record["outcome"] = outcome
    return {**record, **attributes}


def load(customers: int = 80, seed: int = 3) -> list[dict[str, Any]]:
    from apps.ingest.services import ingest_records

    records = journeys(customers, seed)
    batch = ingest_records(records=records, source="test:synthetic")
    assert batch.quarantined == 0 if hasattr(batch, "quarantined") else True
    return records
