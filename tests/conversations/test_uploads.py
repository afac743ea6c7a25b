"""Conversation files uploaded on the dashboard, and batches recorded under their real format."""
from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from apps.conversations.models import Contact
from apps.ingest.models import IngestBatch
from tests.conversations import builders
from tests.conversations.conftest import FIXTURES

pytestmark = pytest.mark.django_db


def test_the_upload_form_offers_the_conversation_formats(analyst):
    html = analyst.get("/ingest/").content.decode()
    for fmt in ("ctr", "contact-lens", "transcript"):
        assert f'<option value="{fmt}">{fmt}</option>' in html


def test_an_uploaded_contact_lens_analysis_is_attached_and_its_batch_says_contact_lens(analyst):
    # given the contact's record is in
    call_command("ingest", str(FIXTURES / "ctr_firehose"), "--format", "ctr")
    upload = SimpleUploadedFile("c-voice-1_analysis.json", json.dumps(builders.cancel_call()).encode(),
                                content_type="application/json")
    # when an analyst uploads its analysis as contact-lens
    analyst.post("/ingest/upload/", {"file": upload, "format": "contact-lens"}, follow=True)
    # then the batch holds its real format and the upload's name, and the analysis is attached
    batch = IngestBatch.objects.get(format="contact-lens")
    assert (batch.source, batch.rows_read, batch.loaded, batch.quarantined) == (
        "upload:c-voice-1_analysis.json", 1, 1, 0)
    assert Contact.objects.get(contact_id="c-voice-1").attached is True
    assert IngestBatch.objects.get(format="ctr").loaded == 5


def test_a_transcript_batch_records_its_format(db, tmp_path):  # type: ignore[no-untyped-def]
    document = {"contact_id": "t-1", "channel": "chat", "started_at": "2026-11-03T08:00:00+00:00",
                "customer_id": "cust-9", "turns": [{"speaker": "customer", "text": "I want to cancel",
                                                    "begin_ms": 0, "end_ms": 1000}]}
    (tmp_path / "t-1.json").write_text(json.dumps(document))
    call_command("ingest", str(tmp_path / "t-1.json"), "--format", "transcript")
    assert IngestBatch.objects.get(format="transcript").loaded == 1
