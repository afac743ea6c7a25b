"""Contact records land as events through the ordinary ingest; this keeps the contacts table in step
and attaches any analysis that arrived before its record."""
from __future__ import annotations

from typing import Any

from apps.ingest.signals import events_ingested
from graph.schema import EventRecord


def _after_ingest(sender: Any, *, events: list[EventRecord] | None = None, **kwargs: Any) -> None:
    from apps.conversations.services import record_contacts

    if events:
        record_contacts(events)


def connect() -> None:
    events_ingested.connect(_after_ingest, dispatch_uid="conversations-after-ingest")
