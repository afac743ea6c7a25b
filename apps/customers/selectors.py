"""Customer reads for the API and the dashboard: identity, summary and journey pages."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection as database
from django.db.models import Q

import graph
from apps.customers.models import CustomerSegment, NameWord
from apps.customers.names import name_words
from apps.ingest.mapping import IDENTIFIER_FIELDS, Mapping, RowError, normalize_identifier
from graph import journeys

IDENTIFIER_KINDS = set(IDENTIFIER_FIELDS.values()) | {"device", "cookie", "connect_profile"}


def parse_identifier(text: str) -> tuple[str, str]:
    """`phone:+61412345678` → ("phone", "+61412345678"), normalised like ingest does it."""
    kind, sep, value = text.partition(":")
    if not sep or not value:
        raise ValueError("identifier must look like kind:value, e.g. phone:+61412345678")
    if kind not in IDENTIFIER_KINDS:
        raise ValueError(f"unknown identifier kind {kind!r}; use one of {', '.join(sorted(IDENTIFIER_KINDS))}")
    try:
        return kind, normalize_identifier(kind, value.strip(), Mapping())
    except RowError as exc:
        raise ValueError(str(exc)) from exc


def customers_with_identifier(text: str) -> list[str]:
    kind, value = parse_identifier(text)
    return journeys.customers_by_identifier(kind, value)


def customer_summary(customer_id: str) -> journeys.CustomerSummary | None:
    return journeys.customer_summary(customer_id)


def journey_page(customer_id: str, *, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
    return journeys.customer_event_count(customer_id), journeys.customer_events(customer_id, offset=offset,
                                                                                 limit=limit)


def customer_list(*, offset: int = 0, limit: int, after: str | None = None, before: str | None = None
                  ) -> list[str]:
    """Customer ids in id order: from `offset`, or (keyset) the `limit` after `after` / before `before`."""
    return journeys.customer_ids(offset=offset, limit=limit, after=after, before=before)


def customer_count(*, order_by: str | None = None) -> int:
    """Customers in the store (those holding the score `order_by` names): the total of a page of
    customer_list() or customers_by_score()."""
    return journeys.customer_count(order_by.lstrip("-") if order_by else None)


PHONE_LIKE = re.compile(r"\+?[\d\s().-]{6,}")
# Event types that end a customer's relationship: a customer whose latest event is one has churned.
CHURN_EVENT_TYPES = frozenset({"churned"})
ACTIVE_DAYS = 30


@dataclass(frozen=True)
class Search:
    """Customers a search text found, and what it was tried as (for a "nobody found" message)."""

    customer_ids: list[str]
    tried: str


def find_customers(text: str, *, limit: int = 50) -> Search:
    """Customers matching what a person typed: `kind:value` for an identifier; an e-mail address; a
    phone number as people write it (normalised as ingest does, so it finds what the API finds); a
    customer id; or the start of words of a name, in any order ("smi ol" finds Olivia Smith; case
    and accents do not matter), through the name index (apps.customers.models.NameWord)."""
    text = text.strip()
    kind = text.partition(":")[0]
    if kind in IDENTIFIER_KINDS and ":" in text:
        return Search(customers_with_identifier(text), f"identifier {text}")
    if "@" in text:
        return Search(customers_with_identifier(f"email:{text}"), f"e-mail {text.lower()}")
    tried = []
    if PHONE_LIKE.fullmatch(text):
        try:
            kind, phone = parse_identifier(f"phone:{text}")
        except ValueError:
            phone = ""
        if phone:
            found = journeys.customers_by_identifier("phone", phone)
            if found:
                return Search(found, f"phone {phone}")
            tried.append(f"phone {phone}")
    if journeys.customer_exists(text):
        return Search([text], f"id {text!r}")
    return Search(customers_named(text, limit=limit), ", ".join(tried + [f"id or name {text!r}"]))


def customers_named(text: str, *, limit: int = 50) -> list[str]:
    """Customers (by id) with a name word starting with each word of `text`; one indexed query."""
    words = name_words(text)
    if not words:
        return []
    found = NameWord.objects.filter(_starting(words[0]))
    for word in words[1:]:
        found = found.filter(customer_id__in=NameWord.objects.filter(_starting(word)).values("customer_id"))
    return list(found.order_by("customer_id").values_list("customer_id", flat=True).distinct()[:limit])


def customers_in_segment(segment: str) -> list[str]:
    """Customers whose segment attribute is `segment`, in id order: one indexed query on the segment
    index (apps.customers.models.CustomerSegment), not a read of every customer's attributes."""
    return list(CustomerSegment.objects.filter(segment=segment).order_by("customer_id")
                .values_list("customer_id", flat=True))


def segment_names(limit: int = 30) -> list[str]:
    """The first `limit` segments some customer is in, in name order: what an unknown segment's message lists."""
    return list(CustomerSegment.objects.order_by("segment").values_list("segment", flat=True).distinct()[:limit])


def segments() -> dict[str, str]:
    """Every customer's segment (customers without one left out), for per-segment figures."""
    return dict(CustomerSegment.objects.values_list("customer_id", "segment"))


def _starting(prefix: str) -> Q:
    """Words starting with `prefix`, read along the word index: SQLite orders text by code point, so
    a range is exact there; elsewhere LIKE 'prefix%' uses the pattern index Django adds."""
    if database.vendor == "sqlite":
        return Q(word__gte=prefix, word__lt=prefix + "\U0010ffff")
    return Q(word__startswith=prefix)


@dataclass(frozen=True)
class CustomerProfile:
    """What a person needs to recognise a customer in a list or a page header."""

    customer_id: str
    name: str
    status: str  # churned, active (an event in the ACTIVE_DAYS to the data's end) or inactive
    last_seen: int
    event_count: int
    events_by_channel: dict[str, int]
    attributes: dict[str, Any]
    scores: dict[str, float]  # stored model scores by property (churn_score, csat_low_score, ...)


def customer_profile(customer_id: str) -> CustomerProfile | None:
    found = customer_profiles([customer_id])
    return found[0] if found else None


def customer_profiles(customer_ids: list[str]) -> list[CustomerProfile]:
    """Profiles of these customers, in the order given (unknown ids left out): one graph read."""
    return _profiles(journeys.customer_rows(customer_ids)) if customer_ids else []


def customer_profile_page(*, offset: int = 0, limit: int, after: str | None = None, before: str | None = None
                          ) -> list[CustomerProfile]:
    """A page of every customer's profile, by id (from `offset`, or after / before a customer id): one
    graph read (plus the data's end, kept a while)."""
    return _profiles(journeys.customer_rows(offset=offset, limit=limit, after=after, before=before))


def _profiles(rows: list[journeys.CustomerRow]) -> list[CustomerProfile]:
    if not rows:
        return []
    end = data_end_ms()
    return [_profile(row, end if end is not None else row.last_seen) for row in rows]


def _profile(row: journeys.CustomerRow, end: int) -> CustomerProfile:
    if row.latest_type in CHURN_EVENT_TYPES:
        status = "churned"
    else:
        status = "active" if row.last_seen >= end - ACTIVE_DAYS * 86_400_000 else "inactive"
    return CustomerProfile(customer_id=row.customer_id, name=str(row.attributes.get("name") or ""), status=status,
                           last_seen=row.last_seen, event_count=row.event_count,
                           events_by_channel=row.events_by_channel, attributes=row.attributes, scores=row.scores)


def customers_by_score(*, order_by: str, offset: int, limit: int) -> list[dict[str, Any]]:
    """`churn_score` lists the highest scores first; `-churn_score` the lowest first."""
    name, descending = (order_by[1:], False) if order_by.startswith("-") else (order_by, True)
    rows = journeys.customers_by_score(name, offset=offset, limit=limit, descending=descending)
    return [{"customer_id": customer, name: value} for customer, value in rows]


@dataclass(frozen=True)
class StoreFigures:
    """Headline counts of the store. `active` counts customers with an event in the `active_days`
    up to the latest event (the data's end), not up to today: a historical load still shows who was
    active at its end."""

    events: int
    customers: int
    active: int
    active_days: int
    data_end_ms: int | None

    @property
    def data_end(self) -> date | None:
        return None if self.data_end_ms is None else datetime.fromtimestamp(self.data_end_ms / 1000, tz=UTC).date()


FIGURES_MAX_AGE_SECONDS = 15.0
_figures: dict[int, tuple[Any, float, StoreFigures]] = {}
_data_end: list[tuple[Any, float, int | None]] = []


def data_end_ms() -> int | None:
    """When the latest event in the store happened: the end "active" is measured to. One scan of
    the customers, reused for a few seconds (per connection) like the store's figures."""
    connection = graph.get_connection()
    now = time.monotonic()
    hit = _figures.get(30)
    if hit is not None and hit[0] is connection and now - hit[1] < FIGURES_MAX_AGE_SECONDS:
        return hit[2].data_end_ms
    if _data_end and _data_end[0][0] is connection and now - _data_end[0][1] < FIGURES_MAX_AGE_SECONDS:
        return _data_end[0][2]
    end = journeys.latest_activity_ms()
    _data_end[:] = [(connection, now, end)]
    return end


def store_figures(*, active_days: int = 30) -> StoreFigures:
    """Whole-store counts scan every vertex, so they are reused for a few seconds (per connection)."""
    connection = graph.get_connection()
    hit = _figures.get(active_days)
    now = time.monotonic()
    if hit is not None and hit[0] is connection and now - hit[1] < FIGURES_MAX_AGE_SECONDS:
        return hit[2]
    counts = journeys.graph_counts()
    figures = StoreFigures(events=counts["event"], customers=counts["customer"],
                           active=journeys.active_customer_count(days=active_days), active_days=active_days,
                           data_end_ms=journeys.latest_activity_ms())
    _figures[active_days] = (connection, now, figures)
    return figures
