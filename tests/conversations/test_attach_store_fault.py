"""Summaries reach the event store's contacts table even when the store fails at that moment: a
contact is marked attached only after its row is written, so `attach_waiting` writes it later."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from apps.conversations import services
from apps.conversations.models import Contact
from apps.events import contacts, maintenance
from tests.conversations import builders
from tests.conversations.conftest import FIXTURES

pytestmark = pytest.mark.django_db


def test_a_store_failure_while_attaching_leaves_the_contacts_waiting_and_attach_waiting_writes_them(
        settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # given the contact records landed, and the analyses arrive while the store cannot be written
    call_command("ingest", str(FIXTURES / "ctr_firehose"), "--format", "ctr")
    lens = tmp_path / "lens"
    lens.mkdir()
    builders.write(lens, builders.CANCEL_FILE, builders.cancel_call())
    builders.write(lens, builders.DISPUTE_FILE, builders.dispute_call())
    working = settings.EVENTS_STORE_URL
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    settings.EVENTS_STORE_URL = str(blocker / "store")
    with pytest.raises(Exception, match="event store: cannot write"):
        call_command("ingest", str(lens), "--format", "contact-lens")

    # then the contacts are not marked attached
    assert Contact.objects.filter(attached=True).count() == 0

    # when the store is back and the waiting contacts are attached
    settings.EVENTS_STORE_URL = working
    attached = services.attach_waiting()

    # then both rows are in the contacts table and the store equals the graph
    assert attached == 2
    assert sorted(r["event_id"] for r in contacts.read_contacts().to_pylist()) == ["c-callback-1", "c-voice-1"]
    assert maintenance.check().equal
