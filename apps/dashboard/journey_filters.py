"""Query parameters shared by the journey pages, read into the journeys app's JourneyFilters.

Every choice lives in the URL, so a strategist can share exactly what they are looking at."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

from apps.dashboard.views.common import date_to_ms, parse_date
from apps.journeys import selectors as journey_selectors

CHANNELS = ("web", "app", "voice", "chat", "email", "sms", "branch")


@dataclass
class FilterForm:
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    filters: Any = None


def read_filters(query: QueryDict) -> FilterForm:
    """Date range (since/until, inclusive days), channels, segment, milestone reached, and contacts
    (categories matched, customer sentiment range)."""
    form = FilterForm(values={
        "since": query.get("since") or "", "until": query.get("until") or "",
        "channel": [c for c in query.getlist("channel") if c], "segment": query.get("segment") or "",
        "milestone": query.get("milestone") or "", "category": [c for c in query.getlist("category") if c],
        "sentiment_min": query.get("sentiment_min") or "", "sentiment_max": query.get("sentiment_max") or "",
    })
    sentiment = {key: _sentiment(form, key) for key in ("sentiment_min", "sentiment_max")}
    try:
        since = parse_date(form.values["since"], field="since")
        until = parse_date(form.values["until"], field="until")
    except ValueError as exc:
        form.errors.append(str(exc))
        since = until = None
    if since and until and until < since:
        form.errors.append(f"until ({until}) is before since ({since})")
        since = until = None
    journey_filters = journey_selectors.JourneyFilters
    form.filters = journey_filters(since_ms=date_to_ms(since), until_ms=date_to_ms(until, end=True),
                                   channels=tuple(form.values["channel"]), segment=form.values["segment"] or None,
                                   milestone=form.values["milestone"] or None,
                                   categories=tuple(form.values["category"]),
                                   sentiment_min=sentiment["sentiment_min"], sentiment_max=sentiment["sentiment_max"])
    return form


def _sentiment(form: FilterForm, key: str) -> float | None:
    """A contact sentiment bound (-5…5), or None; bad input is a message naming the field."""
    text = form.values[key]
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not -5 <= value <= 5:
        form.errors.append(f"{key}: expected a number from -5 to 5, got {text!r}")
        return None
    return value


def flag(query: QueryDict, name: str) -> bool:
    return query.get(name) in ("1", "on", "true")
