"""Keeps milestones, the similarity index and KPI stale marks current as ingest lands events."""
from __future__ import annotations

from typing import Any

from django.db.models import ProtectedError
from django.db.models.signals import pre_delete

from apps.ingest.signals import events_ingested
from graph.schema import EventRecord


def _after_ingest(sender: Any, *, customer_ids: list[str], event_ts: list[int] | None = None,
                  events: list[EventRecord] | None = None, **kwargs: Any) -> None:
    from apps.journeys.services import on_events_ingested

    on_events_ingested(customer_ids, event_ts=event_ts, events=events)


def reach_history_refusal(milestone: Any) -> str | None:
    """Why `milestone` may not be deleted, or None: a milestone customers reached keeps its history
    (deactivate it instead), whatever path asks (API, admin, bulk delete, code)."""
    reaches = milestone.reaches.count()
    if not reaches:
        return None
    return (f"milestone {milestone.slug!r} has been reached by {reaches} customer(s); deleting it would erase "
            "that history, so it is refused. Set active=false to stop new reaches.")


def _protect_reach_history(sender: Any, instance: Any, **kwargs: Any) -> None:
    reason = reach_history_refusal(instance)
    if reason:
        raise ProtectedError(reason, set(instance.reaches.all()[:10]))


def connect() -> None:
    from apps.journeys.models import MilestoneDefinition

    events_ingested.connect(_after_ingest, dispatch_uid="journeys-after-ingest")
    pre_delete.connect(_protect_reach_history, sender=MilestoneDefinition, dispatch_uid="journeys-milestone-history")
