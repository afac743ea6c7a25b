"""Reads of the conversations app: contact search, one contact in full, a customer's conversations."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet

from apps.conversations import fulltext
from apps.conversations.models import SEARCH_INDEX, Contact, ContactCategory, ContactText, Turn


@dataclass(frozen=True)
class ContactQuery:
    """Search filters; every one is optional and they combine with AND."""

    q: str = ""
    category: str = ""
    sentiment_min: float | None = None
    sentiment_max: float | None = None
    duration_min_ms: int | None = None
    duration_max_ms: int | None = None
    channel: str = ""
    queue: str = ""
    agent: str = ""
    since: datetime | None = None
    until: datetime | None = None
    customer_id: str = ""


HIT_FIELDS = ("id", "contact_id", "customer_id", "channel", "initiation_method", "queue", "agent", "started_at",
              "duration_ms", "sentiment_customer", "sentiment_agent", "analysis_source", "summary")


def search_contacts(query: ContactQuery) -> QuerySet[Contact]:
    """Contacts matching every filter, newest first: ids only, so that sorting and paging move narrow
    rows (`hit_rows` reads what a page shows)."""
    contacts = Contact.objects.all()
    exact = {"channel": query.channel, "queue": query.queue, "agent": query.agent, "customer_id": query.customer_id}
    contacts = contacts.filter(**{k: v for k, v in exact.items() if v})
    ranges = {"sentiment_customer__gte": query.sentiment_min, "sentiment_customer__lte": query.sentiment_max,
              "duration_ms__gte": query.duration_min_ms, "duration_ms__lte": query.duration_max_ms,
              "started_at__gte": query.since, "started_at__lt": query.until}
    contacts = contacts.filter(**{k: v for k, v in ranges.items() if v is not None})
    if query.category:
        contacts = contacts.filter(id__in=ContactCategory.objects.filter(name=query.category).values("contact_id"))
    if query.q:
        contacts = fulltext.matching(contacts, query.q)
    return contacts.order_by("-started_at", "-id").only("id")


COUNT_LIMIT = 1000  # a search counts its hits up to here, as search engines do


def search_page(query: ContactQuery, *, offset: int, limit: int) -> tuple[int, list[Contact]]:
    """How many contacts match (counted up to COUNT_LIMIT: a common word matches tens of thousands,
    and counting them all would cost more than the search), and one page of them, newest first.

    On SQLite the matches are read along the search index (start time, then the columns the common
    filters test, so no contact row is read to test them), stopping at COUNT_LIMIT, in one
    statement that gives both the count and the page (the full-text match list is built once, not
    once for the count and again for the page) — unless a customer or agent is named, when their
    own index finds their few contacts faster, or the page lies beyond COUNT_LIMIT."""
    contacts = search_contacts(query)
    if connection.vendor != "sqlite" or query.customer_id or query.agent or offset + limit > COUNT_LIMIT:
        count = contacts.order_by().values("id")[:COUNT_LIMIT].count()
        return count, list(contacts[offset:offset + limit])
    sql, params = contacts.values("id").query.sql_with_params()
    table = 'FROM "conversations_contact"'
    sql = sql.replace(table, f'{table} INDEXED BY "{SEARCH_INDEX}"', 1)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} LIMIT %s", [*params, COUNT_LIMIT])
        ids = [row[0] for row in cursor.fetchall()]
    return len(ids), [Contact(pk=pk) for pk in ids[offset:offset + limit]]


def hit_rows(contacts: list[Contact], q: str = "") -> list[dict[str, Any]]:
    """A page of search hits as plain data, their categories read in one query."""
    ids = [c.pk for c in contacts]
    full = Contact.objects.only(*HIT_FIELDS).in_bulk(ids)
    names: dict[int, list[str]] = {}
    for contact_id, name in (ContactCategory.objects.filter(contact_id__in=ids)
                             .order_by("name").values_list("contact_id", "name")):
        names.setdefault(contact_id, []).append(name)
    texts = dict(ContactText.objects.filter(contact_id__in=ids).values_list("contact_id", "body")) if q else {}
    return [as_row(full[pk], q, categories=names.get(pk, []), text=texts.get(pk, "")) for pk in ids]


def snippet(text: str, q: str, *, width: int = 160) -> str:
    """The first turn that says one of the query's words (what a search hit shows), else the first."""
    words = fulltext.terms(q)
    lines = text.splitlines()
    for line in lines:
        lowered = line.lower()
        if any(w in lowered for w in words):
            return line[:width]
    return lines[0][:width] if lines else ""


def contact_detail(contact_id: str) -> Contact | None:
    return (Contact.objects.filter(contact_id=contact_id)
            .prefetch_related(Prefetch("turns", queryset=Turn.objects.order_by("begin_ms", "position")),
                              "matched_categories").first())


def linked_contacts(contact: Contact) -> list[dict[str, str]]:
    """Contacts joined to this one by a transfer or callback, in either direction."""
    ids = {contact.previous_contact_id: "previous", contact.related_contact_id: "related"}
    links = [{"contact_id": cid, "link": link} for cid, link in ids.items() if cid]
    pointing = Q(previous_contact_id=contact.contact_id) | Q(related_contact_id=contact.contact_id)
    after = Contact.objects.filter(pointing).values_list("contact_id", "previous_contact_id")
    links += [{"contact_id": cid, "link": "next" if prev == contact.contact_id else "related_from"}
              for cid, prev in after]
    return links


def customer_contacts(customer_id: str, *, limit: int = 10) -> list[Contact]:
    """A customer's analysed contacts, newest first, with turns and categories (Customer 360)."""
    return list(Contact.objects.filter(customer_id=customer_id).exclude(analysis_source="")
                .order_by("-started_at", "-id")
                .prefetch_related(Prefetch("turns", queryset=Turn.objects.order_by("begin_ms", "position")),
                                  "matched_categories")[:limit])


def category_known(name: str) -> bool:
    return ContactCategory.objects.filter(name=name).exists()


def category_names() -> list[str]:
    return sorted(set(ContactCategory.objects.values_list("name", flat=True).distinct()))


def _names(contact: Contact) -> list[str]:
    return sorted(c.name for c in contact.matched_categories.all())


def as_row(contact: Contact, q: str = "", *, categories: list[str] | None = None, text: str = "") -> dict[str, Any]:
    """One search hit as plain data (API and dashboard)."""
    return {"contact_id": contact.contact_id, "customer_id": contact.customer_id, "channel": contact.channel,
            "initiation_method": contact.initiation_method, "queue": contact.queue, "agent": contact.agent,
            "started_at": contact.started_at, "duration_ms": contact.duration_ms,
            "sentiment_customer": contact.sentiment_customer, "sentiment_agent": contact.sentiment_agent,
            "categories": _names(contact) if categories is None else categories,
            "analysis_source": contact.analysis_source, "summary": contact.summary,
            "snippet": snippet(text, q) if q else ""}
