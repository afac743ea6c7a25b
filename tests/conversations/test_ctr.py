"""Amazon Connect contact records through `manage.py ingest --format ctr` (the ordinary ingest path)."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from apps.conversations.models import Contact
from apps.ingest.models import IngestBatch
from graph import journeys

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent.parent / "fixtures" / "conversations"


def test_firehose_records_back_to_back_become_typed_events_of_their_customers() -> None:
    call_command("ingest", str(FIXTURES / "ctr_firehose"), "--format", "ctr")

    batch = IngestBatch.objects.get()
    assert (batch.format, batch.rows_read, batch.loaded, batch.quarantined) == ("ctr", 5, 5, 0)
    frame = journeys.events_frame()
    rows = {r.event_id: (r.customer_id, r.type, r.channel, r.outcome) for r in frame.itertuples()}
    assert rows == {
        "c-voice-1": ("cust-100", "call_inbound", "voice", "transferred"),
        "c-voice-2": ("cust-100", "call_transfer", "voice", "completed"),
        "c-chat-1": ("email:pat.doe@example.com", "chat_api", "chat", "completed"),
        "c-abandon-1": ("phone:+61412000222", "call_inbound", "voice", "abandoned"),
        "c-callback-1": ("phone:+61412000222", "call_callback", "voice", "completed"),
    }
    attributes = dict(zip(frame["event_id"], frame["attributes"], strict=True))["c-voice-2"]
    assert attributes["queue"] == "Retention"
    assert attributes["agent"] == "mlee"
    assert attributes["previous_contact_id"] == "c-voice-1"
    durations = (attributes["queue_wait_s"], attributes["agent_interaction_s"], attributes["customer_hold_s"])
    assert durations == (42, 310, 20)
    assert attributes["disconnect_reason"] == "CUSTOMER_DISCONNECT"


def test_contacts_are_recorded_with_queue_agent_duration_and_their_links() -> None:
    call_command("ingest", str(FIXTURES / "ctr_firehose"), "--format", "ctr")

    transfer = Contact.objects.get(contact_id="c-voice-2")
    assert (transfer.customer_id, transfer.channel, transfer.initiation_method, transfer.queue, transfer.agent,
            transfer.duration_ms, transfer.previous_contact_id, transfer.has_record) == (
        "cust-100", "voice", "TRANSFER", "Retention", "mlee", 509_000, "c-voice-1", True)
    callback = Contact.objects.get(contact_id="c-callback-1")
    assert (callback.related_contact_id, callback.disconnect_reason) == ("c-abandon-1", "AGENT_DISCONNECT")


def test_one_record_per_line_is_read_too() -> None:
    call_command("ingest", str(FIXTURES / "ctr_lines.ndjson"), "--format", "ctr")

    assert IngestBatch.objects.get().loaded == 2
    assert sorted(Contact.objects.values_list("contact_id", flat=True)) == ["c-voice-1", "c-voice-2"]


def test_a_broken_record_is_quarantined_with_its_byte_position_and_the_rest_lands() -> None:
    call_command("ingest", str(FIXTURES / "ctr_broken"), "--format", "ctr")

    batch = IngestBatch.objects.get()
    assert (batch.rows_read, batch.loaded, batch.quarantined) == (4, 2, 2)
    reasons = [row.reason for row in batch.quarantined_rows.order_by("row_number")]
    broken_at = (FIXTURES / "ctr_broken").read_text().index('{"ContactId": "c-bad"')
    assert reasons[0] == f"byte {broken_at}: record is not valid JSON (Expecting ':' delimiter at byte 1056)"
    assert reasons[1].endswith("contact c-nochan: unknown Channel 'FAX'")
    assert sorted(Contact.objects.values_list("contact_id", flat=True)) == ["c-chat-1", "c-voice-1"]


def test_rerunning_contact_records_changes_nothing() -> None:
    call_command("ingest", str(FIXTURES / "ctr_firehose"), "--format", "ctr")
    before = (journeys.graph_counts(), Contact.objects.count())

    call_command("ingest", str(FIXTURES / "ctr_firehose"), "--format", "ctr")

    assert IngestBatch.objects.order_by("-id").first().duplicates == 5
    assert (journeys.graph_counts(), Contact.objects.count()) == before
