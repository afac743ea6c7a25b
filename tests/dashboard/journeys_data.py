"""A small hand-built set of journeys where every count is known, loaded through the ingest service."""
from __future__ import annotations

from typing import Any

from apps.ingest.services import ingest_records

DAY0 = 1_772_323_200_000  # 2026-03-01T00:00:00Z
MINUTE = 60_000

# customer → event types in order; each event an hour apart on day 0 (channel by type).
JOURNEYS = {
    "c1": ["web_visit", "app_login", "card_dispute_call"],
    "c2": ["web_visit", "app_login", "card_dispute_call"],
    "c3": ["web_visit", "chat", "card_dispute_call"],
    "c4": ["app_login", "card_dispute_call", "email"],
    "c5": ["web_visit", "app_login", "loan_application"],
    "c6": ["email", "web_visit"],
}
CHANNEL = {"web_visit": "web", "app_login": "app", "card_dispute_call": "voice", "chat": "chat", "email": "email",
           "loan_application": "web"}
PHONES = {"c1": "+61412345001", "c2": "+61412345002"}


def records() -> list[dict[str, Any]]:
    rows = []
    for customer, types in JOURNEYS.items():
        for i, kind in enumerate(types):
            row = {"customer_id": customer, "event_id": f"{customer}-e{i + 1}", "event_type": kind,
                   "channel": CHANNEL[kind], "timestamp": DAY0 + (i * 60 + int(customer[1:])) * MINUTE}
            if customer in PHONES:
                row["phone"] = PHONES[customer]
            rows.append(row)
    return rows


def load() -> None:
    batch = ingest_records(records=records(), source="dashboard-tests")
    assert batch.loaded == sum(len(t) for t in JOURNEYS.values()), batch.error
