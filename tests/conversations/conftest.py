"""Contacts loaded the way production loads them: contact records, then their Contact Lens analyses."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from tests.conversations import builders
from tests.dashboard.conftest import client_for

FIXTURES = Path(__file__).parent.parent / "fixtures" / "conversations"


@pytest.fixture
def loaded(db, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    builders.write(tmp_path, builders.CANCEL_FILE, builders.cancel_call())
    builders.write(tmp_path, builders.CHAT_FILE, builders.refund_chat())
    builders.write(tmp_path, builders.DISPUTE_FILE, builders.dispute_call())
    call_command("ingest", str(FIXTURES / "ctr_firehose"), "--format", "ctr")
    call_command("ingest", str(tmp_path), "--format", "contact-lens")
    return tmp_path


@pytest.fixture
def analyst(db) -> Client:  # type: ignore[no-untyped-def]
    return client_for("anna", "analyst")


@pytest.fixture
def viewer(db) -> Client:  # type: ignore[no-untyped-def]
    return client_for("vera", "viewer")
