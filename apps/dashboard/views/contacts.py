"""Contact search: what was said in calls and chats, with the same filters as GET /api/contacts."""
from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from apps.conversations import selectors
from apps.conversations.api.serializers import ContactSearchQuerySerializer
from apps.conversations.api.views import query_from
from apps.dashboard.roles import ANALYST, role_required
from apps.dashboard.tables import Column, Table
from apps.dashboard.views.common import page

PAGE_SIZE = 50
COLUMNS = [Column("started", "Started (UTC)"), Column("channel", "Channel"), Column("customer_id", "Customer"),
           Column("queue", "Queue"), Column("agent", "Agent"), Column("duration_s", "Duration (s)", True),
           Column("sentiment", "Customer sentiment", True), Column("categories", "Categories"),
           Column("snippet", "Said"), Column("contact_id", "Contact"), Column("paths", "Journeys")]
FILTERS = ("q", "category", "sentiment_min", "sentiment_max", "duration_min", "duration_max", "channel", "queue",
           "agent", "since", "until")


@role_required(ANALYST)
def contacts(request: HttpRequest) -> HttpResponse:
    """Search transcripts (redacted) with filters; each hit opens its customer's 360 and journeys."""
    values = {k: request.GET.get(k, "") for k in FILTERS}
    params = ContactSearchQuerySerializer(data={k: v for k, v in values.items() if v})
    context = {"title": "Contacts", "values": values, "categories": selectors.category_names(), "errors": {}}
    if not params.is_valid():
        context["errors"] = {k: " ".join(str(e) for e in v) for k, v in params.errors.items()}
        table = Table("contacts", "Fix the filters above to search", COLUMNS, [])
        return page(request, "dashboard/contacts.html", {**context, "table": table}, tables={"contacts": table})
    query = query_from(params.validated_data)
    number = max(1, int(request.GET.get("page") or 1)) if (request.GET.get("page") or "1").isdigit() else 1
    count, found = selectors.search_page(query, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    rows = [_row(hit) for hit in selectors.hit_rows(found, query.q)]
    many = "or more " if count >= selectors.COUNT_LIMIT else ""
    table = Table("contacts", f"{count:,} {many}contacts, newest first", COLUMNS, rows,
                  links={"customer_id": "customer_url", "contact_id": "detail_url", "paths": "explorer_url"})
    kept = urlencode({k: v for k, v in values.items() if v})
    pages = {"number": number, "previous": number - 1 if number > 1 else None,
             "next": number + 1 if number * PAGE_SIZE < count else None}
    return page(request, "dashboard/contacts.html", {**context, "table": table, "pages": pages, "kept": kept},
                tables={"contacts": table})


def _row(hit: dict) -> dict:
    started = hit["started_at"]
    customer_url = reverse("dashboard:customer", args=[hit["customer_id"]]) if hit["customer_id"] else None
    return {**hit, "started": f"{started:%Y-%m-%d %H:%M}" if started else "",
            "duration_s": round(hit["duration_ms"] / 1000) if hit["duration_ms"] is not None else None,
            "sentiment": hit["sentiment_customer"], "categories": ", ".join(hit["categories"]),
            "customer_url": customer_url,
            "detail_url": f"{customer_url}#contact-{hit['contact_id']}" if customer_url else None,
            "paths": f"into {_event_type(hit)}" if hit["initiation_method"] else "",
            "explorer_url": f"{reverse('dashboard:explorer')}?{urlencode(_paths_into(hit))}"}


def _paths_into(hit: dict) -> dict[str, str]:
    return {"event": _event_type(hit), "direction": "to"}


def _event_type(hit: dict) -> str:
    """The contact's event type in the journeys (as contact records are typed: call_inbound, chat_api…)."""
    prefix = "call" if hit["channel"] == "voice" else hit["channel"]
    return f"{prefix}_{hit['initiation_method'].lower()}"
