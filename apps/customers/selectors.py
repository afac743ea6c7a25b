"""Customer reads for the API and the dashboard: identity, summary and journey pages."""
from __future__ import annotations

from typing import Any

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


def customer_list(*, offset: int, limit: int) -> list[str]:
    return journeys.customer_ids(offset=offset, limit=limit)


def customers_by_score(*, order_by: str, offset: int, limit: int) -> list[dict[str, Any]]:
    """`churn_score` lists the highest scores first; `-churn_score` the lowest first."""
    name, descending = (order_by[1:], False) if order_by.startswith("-") else (order_by, True)
    rows = journeys.customers_by_score(name, offset=offset, limit=limit, descending=descending)
    return [{"customer_id": customer, name: value} for customer, value in rows]
