"""Reads of the propensity app: model versions, training runs, journey data for features, scored customers."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from django.db.models import Count, QuerySet

from apps.events import engine as analytics_engine
from apps.events.analytics import frames
from apps.propensity.models import ModelVersion, TrainingRun
from apps.propensity.specs import CustomerJourney
from graph import journeys


def model_versions(name: str | None = None) -> QuerySet[ModelVersion]:
    versions = ModelVersion.objects.all()
    return versions.filter(name=name) if name else versions


def model_names() -> list[str]:
    return sorted(set(ModelVersion.objects.values_list("name", flat=True)))


def training_runs(name: str | None = None) -> QuerySet[TrainingRun]:
    runs = TrainingRun.objects.select_related("model_version")
    return runs.filter(model_name=name) if name else runs


def to_ms(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp() * 1000)


def from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def journey_events(*, since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
    """Every event in the window as the canonical frame in journey order, with each analysed contact's
    conversation summary (what training builds features from), read through the analytics engine."""
    return frames.events_frame(analytics_engine.get_engine(),
                               analytics_engine.EventFilter(since_ms=to_ms(since), until_ms=to_ms(until)),
                               columns=(*frames.FRAME_COLUMNS, *frames.CONTACT_COLUMNS))


def customer_journey(customer_id: str) -> pd.DataFrame:
    """One customer's events as the canonical frame (what online scoring builds features from)."""
    return journeys.events_frame(customer_ids=[customer_id])


ONLINE_EVENT_LIMIT = 5000


def customer_event_rows(customer_id: str) -> list[dict[str, Any]]:
    """One customer's events as dicts in (ts, event_id) order: the fast path for online scoring,
    with the canonical frame's keys but without building a DataFrame."""
    rows = journeys.customer_events(customer_id, limit=ONLINE_EVENT_LIMIT)
    return sorted(rows, key=lambda r: (r["ts"], r["event_id"]))


Facts = dict[str, dict[str, list[tuple[str, int]]]]


def customer_facts(customer_ids: list[str] | None = None) -> Facts:
    """Milestones reached and identifier kinds (with times) per customer; empty when the graph gateway
    does not offer them, so features simply leave those columns at zero."""
    read = getattr(journeys, "customer_facts", None)
    return read(customer_ids) if read is not None else {}


def milestones_and_identifiers(facts: Facts) -> tuple[dict[str, dict[str, int]], dict[str, list[tuple[str, int]]]]:
    """Split customer facts into the two mappings the feature builder takes."""
    milestones = {cid: dict(f.get("milestones", [])) for cid, f in facts.items()}
    identifiers = {cid: list(f.get("identifiers", [])) for cid, f in facts.items()}
    return milestones, identifiers


def read_customer_journey(customer_id: str) -> CustomerJourney | None:
    """Events, milestones and identifiers of one customer for online scoring; None when unknown."""
    events = customer_event_rows(customer_id)
    if not events and not customer_exists(customer_id):
        return None
    facts = customer_facts([customer_id]).get(customer_id, {})
    return CustomerJourney(customer_id=customer_id, events=events, milestones=dict(facts.get("milestones", [])),
                           identifiers=list(facts.get("identifiers", [])))


def customer_exists(customer_id: str) -> bool:
    return journeys.customer_exists(customer_id)


def customers_by_score(score_name: str, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """Customers with the highest `score_name` property first (e.g. `churn_score`), as written by `score`."""
    return [{"customer_id": cid, score_name: value}
            for cid, value in journeys.customers_by_score(score_name, limit=limit, offset=offset)]


def active_run_counts() -> dict[str, int]:
    """Training runs waiting or running (what a metrics scrape reports as the training queue)."""
    counts = dict.fromkeys([TrainingRun.Status.QUEUED.value, TrainingRun.Status.RUNNING.value], 0)
    rows = (TrainingRun.objects.filter(status__in=list(counts)).values("status")
            .annotate(n=Count("id")).values_list("status", "n"))
    counts.update({status: n for status, n in rows})
    return counts
