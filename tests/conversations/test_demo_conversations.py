"""The demo bank's calls and chats get conversations that the search, the graph and 360 show."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.conversations.models import Contact, ContactCategory, Turn
from apps.ingest.models import IngestBatch
from graph import journeys as graph_journeys

pytestmark = pytest.mark.django_db


def test_demo_calls_and_chats_carry_analysed_redacted_conversations(settings, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                   shared_data: Path) -> None:
    settings.VAR_DIR = tmp_path
    out = io.StringIO()

    call_command("demo", "--no-serve", "--customers", "50", "--no-train", stdout=out)

    batch = IngestBatch.objects.get(format="transcript")
    assert (batch.quarantined, batch.loaded) == (0, Contact.objects.count())
    assert f"{batch.loaded:,} call and chat transcripts analysed and redacted" in out.getvalue()
    assert Contact.objects.filter(has_record=True, attached=True).count() == batch.loaded
    names = set(ContactCategory.objects.values_list("name", flat=True))
    assert {"Fraud", "Complaint", "Agent apology"} <= names
    said = " ".join(Turn.objects.values_list("content", flat=True))
    assert "[CARD]" in said and "[NAME]" in said and "[PHONE]" in said and "@example.com" not in said
    disputed = Contact.objects.filter(matched_categories__name="Fraud").first()
    assert disputed is not None and disputed.sentiment_customer is not None
    analysed = {e["event_id"]: e["categories"] for e in graph_journeys.customer_events(disputed.customer_id, limit=500)
                if "categories" in e}
    assert "Fraud" in analysed[disputed.contact_id]

    call_command("demo", "--no-serve", "--customers", "50", "--no-train", stdout=io.StringIO())

    again = IngestBatch.objects.filter(format="transcript").order_by("-id").first()
    assert again is not None and (again.loaded, again.duplicates) == (0, batch.loaded)
