"""Contact search API: full text over redacted transcripts with filters, and one contact in full.

Who may call: the permission is declared once, in `READ_CONTACTS`, for both endpoints — people with
the analyst or admin role (transcripts are more sensitive than journeys, so viewers are refused) and
API keys with the `read` scope (machine clients of CRMs and agent desktops).
"""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from apps.conversations import selectors
from apps.conversations.api.serializers import (
    ContactDetailSerializer,
    ContactHitSerializer,
    ContactSearchQuerySerializer,
)
from apps.core import parameters
from apps.core.pagination import Page, paged
from apps.core.permissions import EXPLORE

# Analysts and admins, and API keys with the `read` scope (transcripts are stored redacted).
READ_CONTACTS = [EXPLORE]


def query_from(data: dict[str, Any]) -> selectors.ContactQuery:
    """Validated query parameters as a search (seconds become milliseconds)."""
    seconds = {k: data.get(k) for k in ("duration_min", "duration_max")}
    return selectors.ContactQuery(
        q=data.get("q", ""), category=data.get("category", ""), sentiment_min=data.get("sentiment_min"),
        sentiment_max=data.get("sentiment_max"),
        duration_min_ms=seconds["duration_min"] * 1000 if seconds["duration_min"] is not None else None,
        duration_max_ms=seconds["duration_max"] * 1000 if seconds["duration_max"] is not None else None,
        channel=data.get("channel", ""), queue=data.get("queue", ""), agent=data.get("agent", ""),
        since=data.get("since"), until=data.get("until"), customer_id=data.get("customer_id", ""))


@paged
@extend_schema(parameters=[ContactSearchQuerySerializer], responses=ContactHitSerializer(many=True))
@api_view(["GET"])
@permission_classes(READ_CONTACTS)
def contact_list(request: Request) -> Response:
    """Contacts whose transcript says every word of `q`, filtered, newest first."""
    query = query_from(parameters.read(ContactSearchQuerySerializer, request).validated_data)
    page = Page(request)
    count, found = selectors.search_page(query, offset=page.offset, limit=page.limit)
    rows = selectors.hit_rows(found, query.q)
    for row in rows:  # plain data already: the serializer documents the shape, a hot path need not run it
        row["started_at"] = row["started_at"].isoformat().replace("+00:00", "Z") if row["started_at"] else None
    return page.response(count=count, results=rows)


@extend_schema(parameters=[OpenApiParameter("contact_id", str, OpenApiParameter.PATH)],
               responses=ContactDetailSerializer)
@api_view(["GET"])
@permission_classes(READ_CONTACTS)
def contact_detail(request: Request, contact_id: str) -> Response:
    """One contact: its record, analysis, categories with points of interest, summary, redacted transcript."""
    contact = selectors.contact_detail(contact_id)
    if contact is None:
        raise NotFound(f"no contact {contact_id!r}")
    row = selectors.as_row(contact)
    row.update(disconnect_reason=contact.disconnect_reason, has_record=contact.has_record,
               characteristics=contact.characteristics, summary_items=contact.summary_items,
               redaction=contact.redaction, links=selectors.linked_contacts(contact),
               matched=[{"name": c.name, "points": c.points} for c in contact.matched_categories.all()],
               turns=[{"position": t.position, "role": t.role, "begin_ms": t.begin_ms, "end_ms": t.end_ms,
                       "content": t.content, "sentiment": t.sentiment, "score": t.score, "marks": t.marks}
                      for t in contact.turns.all()])
    return Response(ContactDetailSerializer(row).data)
