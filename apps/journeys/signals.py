"""Keeps milestones, the similarity index and KPI stale marks current as ingest lands events."""
from __future__ import annotations

from typing import Any

from apps.ingest.signals import events_ingested
from graph.schema import EventRecord


def _after_ingest(sender: Any, *, customer_ids: list[str], event_ts: list[int] | None = None,
                  events: list[EventRecord] | None = None, **kwargs: Any) -> None:
    from apps.journeys.services import on_events_ingested

    on_events_ingested(customer_ids, event_ts=event_ts, events=events)


def connect() -> None:
    events_ingested.connect(_after_ingest, dispatch_uid="journeys-after-ingest")
