"""Amazon Connect re-delivers a contact record after it changes (same ContactId, updated content): the
contact's event is updated in place, in the graph and in the event store, with no second event."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.conversations.models import Contact
from apps.events.analytics import frames
from apps.events.engine import get_engine
from apps.ingest.models import IngestBatch
from graph import get_g
from tests.conversations.conftest import FIXTURES

pytestmark = pytest.mark.django_db


def _records() -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / "ctr_lines.ndjson").read_text().splitlines() if line.strip()]


def test_a_redelivered_contact_record_updates_its_event_once(tmp_path: Path):
    # given the contact records loaded once
    records = _records()
    first = tmp_path / "first.ndjson"
    first.write_text("\n".join(json.dumps(r) for r in records))
    call_command("ingest", str(first), "--format", "ctr")
    # when Connect re-delivers c-voice-1 with a new queue and disconnect reason, and the rest unchanged
    updated = [{**r, "Queue": {**(r.get("Queue") or {}), "Name": "Retention"}, "DisconnectReason": "AGENT_DISCONNECT"}
               if r["ContactId"] == "c-voice-1" else r for r in records]
    again = tmp_path / "again.ndjson"
    again.write_text("\n".join(json.dumps(r) for r in updated))
    call_command("ingest", str(again), "--format", "ctr")
    # then its one event carries the new content in the graph, the event store and the contact row
    batch = IngestBatch.objects.filter(source=str(again)).get()
    assert (batch.format, batch.loaded, batch.updated, batch.duplicates) == ("ctr", 0, 1, len(records) - 1)
    assert get_g().V().has_label("event").count().next() == len(records)
    attributes = json.loads(get_g().V("event:c-voice-1").values("attributes").next())
    assert (attributes["queue"], attributes["disconnect_reason"]) == ("Retention", "AGENT_DISCONNECT")
    frame = frames.events_frame(get_engine(), columns=("event_id", "attributes"))
    assert list(frame["event_id"]).count("c-voice-1") == 1
    stored = frame[frame["event_id"] == "c-voice-1"]["attributes"].iloc[0]
    assert (stored["queue"], stored["disconnect_reason"]) == ("Retention", "AGENT_DISCONNECT")
    contact = Contact.objects.get(contact_id="c-voice-1")
    assert (contact.queue, contact.disconnect_reason) == ("Retention", "AGENT_DISCONNECT")
    # and the same delivery a third time changes nothing
    call_command("ingest", str(again), "--format", "ctr")
    third = IngestBatch.objects.filter(source=str(again)).order_by("-id").first()
    assert (third.loaded, third.updated, third.duplicates) == (0, 0, len(records))
    call_command("events_store", "check")


def test_a_file_of_only_updated_records_is_a_success_that_says_so(tmp_path: Path, capsys):
    records = _records()
    first = tmp_path / "first.ndjson"
    first.write_text("\n".join(json.dumps(r) for r in records))
    call_command("ingest", str(first), "--format", "ctr")
    voice = next(r for r in records if r["ContactId"] == "c-voice-1")
    again = tmp_path / "again.ndjson"
    again.write_text(json.dumps({**voice, "DisconnectReason": "TELECOM_PROBLEM"}))
    call_command("ingest", str(again), "--format", "ctr")
    assert "0 loaded, 0 duplicates, 0 quarantined, 1 updated (sent again with changes)" in capsys.readouterr().out
    batch = IngestBatch.objects.filter(source=str(again)).get()
    assert (batch.updated, batch.loaded) == (1, 0)
