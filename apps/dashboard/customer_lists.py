"""Lists of customers behind a number (a Sankey box, a funnel step): a page at a time, with names.

The page shows one page of customers with what people recognise them by; the CSV keeps every id, so
a list of thousands downloads whole without reading thousands of profiles.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from apps.customers import selectors as customer_selectors
from apps.dashboard.tables import Column, Table, wants_csv
from apps.dashboard.views.common import ms_to_datetime, parse_int

PAGE_SIZE = 50
COLUMNS = [Column("customer_id", "Customer"), Column("name", "Name"), Column("status", "Status"),
           Column("last_seen", "Last seen (UTC)"), Column("events", "Events", True)]


@dataclass(frozen=True)
class CustomerPage:
    table: Table  # this page, with names
    everyone: Table  # every id, for the CSV
    offset: int
    limit: int
    count: int
    prev_url: str | None
    next_url: str | None

    @property
    def span(self) -> str:
        last = min(self.offset + self.limit, self.count)
        return f"Customers {self.offset + 1}–{last} of {self.count}" if self.count else "No customers"


def page_bounds(request: HttpRequest) -> tuple[int, int]:
    """`offset` and `limit` of the page asked for (the first page of PAGE_SIZE when they are not sane)."""
    try:
        offset = parse_int(request.GET.get("offset"), field="offset", default=0, lo=0, hi=100_000_000)
        limit = parse_int(request.GET.get("limit"), field="limit", default=PAGE_SIZE, lo=1, hi=500)
    except ValueError:
        offset, limit = 0, PAGE_SIZE
    return offset, limit


def customer_page(request: HttpRequest, found: Any, *, everyone: Callable[[], list[str]], name: str,
                  caption: str) -> CustomerPage:
    """The page `found` (count, offset, limit, ids of this page) with names and profiles read for its
    ids only; `everyone` is called only when the CSV of the whole list is asked for."""
    offset, limit, count = found.offset, found.limit, found.count
    rows = []
    for p in customer_selectors.customer_profiles(list(found.ids)):
        rows.append({"customer_id": p.customer_id, "name": p.name, "status": p.status,
                     "last_seen": _day(p.last_seen), "events": p.event_count,
                     "url": reverse("dashboard:customer", args=[p.customer_id])})
    links = {"customer_id": "url", "name": "url"}
    table = Table(name, caption, COLUMNS, rows, links=links)
    ids = everyone() if wants_csv(request) else []
    every = Table(name, caption, [Column("customer_id", "Customer")], [{"customer_id": c} for c in ids])
    return CustomerPage(table=table, everyone=every, offset=offset, limit=limit, count=count,
                        prev_url=_url(request, max(0, offset - limit)) if offset else None,
                        next_url=_url(request, offset + limit) if offset + limit < count else None)


def _day(ms: int) -> str:
    when = ms_to_datetime(ms)
    return f"{when:%Y-%m-%d %H:%M}" if when else ""


def _url(request: HttpRequest, offset: int) -> str:
    query = request.GET.copy()
    query["offset"] = str(offset)
    query.pop("format", None)
    return f"{request.path}?{query.urlencode()}"
