"""Events that land through ingest update milestones at once, with no backfill run."""
from __future__ import annotations

import pytest

from apps.ingest.services import ingest_records
from apps.journeys.models import MilestoneDefinition
from apps.journeys.selectors import customer_milestones
from graph import journeys

pytestmark = pytest.mark.django_db


def test_a_milestone_is_reached_once_when_its_event_is_ingested() -> None:
    MilestoneDefinition.objects.create(name="Card activated", slug="card_activated", trigger="event_type",
                                       event_type="card_activated")
    events = [{"event_id": "m1", "customer_id": "c1", "event_type": "apply_card", "channel": "web",
               "timestamp": 1_772_000_000_000},
              {"event_id": "m2", "customer_id": "c1", "event_type": "card_activated", "channel": "app",
               "timestamp": 1_772_000_600_000}]

    ingest_records(records=events, source="test")
    ingest_records(records=[dict(events[1], event_id="m3", timestamp=1_772_001_000_000)], source="test")

    assert [(m.slug, m.ts, m.event_id) for m in customer_milestones(customer_id="c1")] == [
        ("card_activated", 1_772_000_600_000, "m2")]
    assert journeys.reached_customers("card_activated") == {"c1": 1_772_000_600_000}


def test_events_that_landed_before_a_failure_are_still_followed_up(monkeypatch, settings) -> None:  # type: ignore[no-untyped-def]
    from graph.errors import GraphUnavailable

    settings.INGEST_FOLLOW_UP_CHUNKS = 10
    MilestoneDefinition.objects.create(name="Card activated", slug="card_activated", trigger="event_type",
                                       event_type="card_activated")
    real_write = journeys.write_events
    calls = {"n": 0}

    def failing_on_second_chunk(records, *rule):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise GraphUnavailable("store went away")
        return real_write(records, *rule)

    monkeypatch.setattr(journeys, "write_events", failing_on_second_chunk)
    events = [{"event_id": f"f{i}", "customer_id": f"c{i}", "event_type": "card_activated", "channel": "app",
               "timestamp": 1_772_000_000_000 + i} for i in range(4)]

    with pytest.raises(GraphUnavailable):
        ingest_records(records=events, source="test", chunk_size=2)

    assert journeys.reached_customers("card_activated") == {"c0": 1_772_000_000_000, "c1": 1_772_000_000_001}


def test_a_sequence_milestone_completed_by_a_later_batch_reads_back_over_its_window() -> None:
    MilestoneDefinition.objects.create(name="Locked then called", slug="locked_then_called", trigger="sequence",
                                       sequence=["card_locked", "call_fraud_dispute"], window_seconds=7200)
    hour = 3_600_000
    start = 1_772_000_000_000

    def event(event_id: str, customer: str, event_type: str, ts: int) -> dict[str, object]:
        return {"event_id": event_id, "customer_id": customer, "event_type": event_type, "channel": "web",
                "timestamp": ts}

    ingest_records(records=[event("a1", "c1", "card_locked", start), event("b1", "c2", "card_locked", start)],
                   source="test")
    ingest_records(records=[event("a2", "c1", "call_fraud_dispute", start + hour),       # within 2 h
                            event("b2", "c2", "call_fraud_dispute", start + 3 * hour)],  # too late
                   source="test")

    assert journeys.reached_customers("locked_then_called") == {"c1": start + hour}


def test_a_late_first_step_completes_a_sequence_with_events_already_stored() -> None:
    MilestoneDefinition.objects.create(name="Locked then called", slug="locked_then_called", trigger="sequence",
                                       sequence=["card_locked", "call_fraud_dispute"], window_seconds=7200)
    hour = 3_600_000
    start = 1_772_000_000_000

    def event(event_id: str, event_type: str, ts: int) -> dict[str, object]:
        return {"event_id": event_id, "customer_id": "c1", "event_type": event_type, "channel": "web",
                "timestamp": ts}

    ingest_records(records=[event("x1", "login", start + hour), event("x2", "call_fraud_dispute", start + 2 * hour)],
                   source="test")
    assert journeys.reached_customers("locked_then_called") == {}
    ingest_records(records=[event("x0", "card_locked", start)], source="test")  # arrives late, before both

    assert journeys.reached_customers("locked_then_called") == {"c1": start + 2 * hour}


def test_attribute_milestones_and_customers_known_only_by_phone_follow_the_new_events() -> None:
    MilestoneDefinition.objects.create(name="Big payment", slug="big_payment", trigger="attribute",
                                       attribute="amount", op="gte", value="1000")
    ingest_records(records=[{"event_id": "p1", "phone": "+61412345678", "event_type": "payment", "channel": "app",
                             "timestamp": 1_772_000_000_000, "amount": "250"},
                            {"event_id": "p2", "phone": "+61412345678", "event_type": "payment", "channel": "app",
                             "timestamp": 1_772_000_100_000, "amount": "1500"}], source="test")

    assert journeys.reached_customers("big_payment") == {"phone:+61412345678": 1_772_000_100_000}
