"""Customer search, Customer 360 and the similarity explorer."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from apps.customers import selectors as customer_selectors
from apps.customers.privacy import REDACTED
from apps.dashboard import customer360 as c360
from apps.dashboard import labels
from apps.dashboard.roles import ANALYST, VIEWER, has_role, role_required
from apps.dashboard.tables import Column, Table
from apps.dashboard.views.common import not_found, page, parse_int
from apps.journeys import selectors as journey_selectors

PAGE_SIZE = 50
SEARCH_LIMIT = 10_000  # matches a search pages through (ids only; each page reads its own rows)


LIST_COLUMNS = [Column("customer_id", "Customer"), Column("name", "Name"), Column("status", "Status"),
                Column("last_seen", "Last seen (UTC)"), Column("events", "Events", True),
                Column("channels", "Channels"), Column("scores", "Scores")]


def _list_row(p: customer_selectors.CustomerProfile) -> dict:
    return {"customer_id": p.customer_id, "name": p.name, "status": p.status,
            "last_seen": c360.fmt_ms(p.last_seen)[:16], "events": p.event_count,
            "channels": ", ".join(f"{ch} {n}" for ch, n in p.events_by_channel.items()),
            "scores": ", ".join(f"{labels.words(k.removesuffix('_score')).lower()} {v:.2f}"
                                for k, v in sorted(p.scores.items())),
            "url": reverse("dashboard:customer", args=[p.customer_id])}


@role_required(VIEWER)
def customers(request: HttpRequest) -> HttpResponse:
    """Find a customer by id, name, phone, e-mail or `kind:value`; otherwise list them a page at a time."""
    query = (request.GET.get("q") or "").strip()
    try:
        offset = parse_int(request.GET.get("offset"), field="offset", default=0, lo=0, hi=100_000_000)
        limit = parse_int(request.GET.get("limit"), field="limit", default=PAGE_SIZE, lo=1, hi=200)
    except ValueError:
        offset, limit = 0, PAGE_SIZE
    context: dict = {"title": "Customers", "q": query, "error": ""}
    if query:
        try:
            search = customer_selectors.find_customers(query, limit=SEARCH_LIMIT)
        except ValueError as exc:
            search = customer_selectors.Search([], "")
            context["error"] = str(exc)
        if len(search.customer_ids) == 1:
            return HttpResponseRedirect(reverse("dashboard:customer", args=[search.customer_ids[0]]))
        if not search.customer_ids and not context["error"]:
            context["error"] = f"No customer with {search.tried}."
        found = search.customer_ids
        profiles = customer_selectors.customer_profiles(found[offset:offset + limit])
        total = f"{len(found):,}{' or more' if len(found) >= SEARCH_LIMIT else ''}"
        caption = f"Customers {offset + 1}–{offset + len(profiles)} of {total} matching {query}"
        next_url = _page_url(request, offset + limit) if offset + limit < len(found) else None
        prev_url = _page_url(request, max(0, offset - limit)) if offset else None
    else:
        profiles, next_url, prev_url = _page_by_id(request, offset=offset, limit=limit)
        span = f"{profiles[0].customer_id} to {profiles[-1].customer_id}" if profiles else "none"
        caption = f"Customers {span}, by id"
    table = _table(caption, profiles)
    context.update(table=table, next_url=next_url, prev_url=prev_url)
    return page(request, "dashboard/customers.html", context, tables={"customers": table})


def _table(caption: str, profiles: list[customer_selectors.CustomerProfile]) -> Table:
    return Table("customers", caption, LIST_COLUMNS, [_list_row(p) for p in profiles], links={"customer_id": "url"})


def _page_by_id(request: HttpRequest, *, offset: int, limit: int
                ) -> tuple[list[customer_selectors.CustomerProfile], str | None, str | None]:
    """Every customer a page at a time by id: links carry the id to read past (`after`, `before`), so
    a deep page costs what the first does; one more row than the page says whether another follows."""
    after, before = request.GET.get("after") or None, request.GET.get("before") or None
    if after is not None:
        before = None
    rows = customer_selectors.customer_profile_page(offset=offset, limit=limit + 1, after=after, before=before)
    if before is not None:
        profiles = rows[1:] if len(rows) > limit else rows
        earlier, later = len(rows) > limit, bool(profiles)
    else:
        profiles = rows[:limit]
        earlier, later = bool(profiles) and (after is not None or offset > 0), len(rows) > limit
    return (profiles, _cursor_url(request, "after", profiles[-1].customer_id) if later else None,
            _cursor_url(request, "before", profiles[0].customer_id) if earlier else None)


def _cursor_url(request: HttpRequest, name: str, customer_id: str) -> str:
    """This list (page size kept) after or before a customer id."""
    query = request.GET.copy()
    for key in ("offset", "after", "before", "format"):
        query.pop(key, None)
    query[name] = customer_id
    return f"{request.path}?{query.urlencode()}"


def _page_url(request: HttpRequest, offset: int) -> str:
    """This list (search text and page size kept) from another offset."""
    query = request.GET.copy()
    query["offset"] = str(offset)
    query.pop("format", None)
    return f"{request.path}?{query.urlencode()}"


@role_required(VIEWER)
def customer(request: HttpRequest, customer_id: str) -> HttpResponse:
    summary = customer_selectors.customer_summary(customer_id)
    profile = customer_selectors.customer_profile(customer_id) if summary is not None else None
    if summary is None or profile is None:
        return not_found(request, f"No customer {customer_id!r}.")
    try:
        offset = parse_int(request.GET.get("offset"), field="offset", default=0, lo=0, hi=10_000_000)
    except ValueError:
        offset = 0
    count, timeline = c360.timeline(customer_id, offset=offset, limit=PAGE_SIZE)
    personal = has_role(request.user, ANALYST)  # phones and e-mails: analysts and admins (apps.core.permissions)
    identifiers = Table("identifiers", "Identifiers linked to this customer",
                        [Column("kind", "Kind"), Column("value", "Value"), Column("first_seen", "First seen")],
                        [{"kind": i["kind"], "value": i["value"] if personal else REDACTED,
                          "first_seen": c360.fmt_ms(i.get("first_seen"))} for i in summary.identifiers])
    context: dict[str, Any] = {
        "title": profile.name or f"Customer {customer_id}", "summary": summary, "customer_id": customer_id,
        "profile": profile,
        "first_seen": c360.fmt_ms(summary.first_seen), "last_seen": c360.fmt_ms(summary.last_seen),
        "timeline": timeline, "identifiers": identifiers, "count": count, "offset": offset,
        "next_offset": offset + PAGE_SIZE if offset + PAGE_SIZE < count else None,
        "prev_offset": max(0, offset - PAGE_SIZE) if offset else None,
        "milestones": c360.milestones(customer_id), "scores": c360.scores(customer_id),
        "decisions": c360.latest_decisions(customer_id), "similar": c360.similar(customer_id),
        "predicted": c360.predicted(customer_id, summary), "next_events": c360.next_events(customer_id),
        "conversations": c360.conversations(customer_id),
    }
    tables = {"timeline": timeline, "identifiers": identifiers}
    if context["similar"].data is not None:
        tables["similar"] = context["similar"].data
    return page(request, "dashboard/customer.html", context, tables=tables)


def _threshold(value: str | None) -> float:
    if not value:
        return c360.SIMILAR_THRESHOLD
    try:
        threshold = float(value)
    except ValueError:
        raise ValueError(f"threshold: expected a number, got {value!r}") from None
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold: must be above 0 and at most 1, got {threshold}")
    return threshold


@role_required(VIEWER)
def similarity(request: HttpRequest) -> HttpResponse:
    """Pick a customer or type a sequence (comma or '>' separated) and see who journeys alike."""
    customer_id = (request.GET.get("customer") or "").strip()
    sequence_text = (request.GET.get("sequence") or "").strip()
    context: dict = {"title": "Similarity explorer", "customer": customer_id, "sequence": sequence_text, "error": ""}
    try:
        k = parse_int(request.GET.get("k"), field="k", default=10, lo=1, hi=100)
        threshold = _threshold(request.GET.get("threshold"))
        if customer_id and sequence_text:  # the sequence was passed over, as if not typed
            raise ValueError("give a customer or a sequence, not both")
    except ValueError as exc:
        return page(request, "dashboard/similarity.html",
                    {**context, "error": str(exc), "k": 10, "threshold": c360.SIMILAR_THRESHOLD})
    context.update(k=k, threshold=threshold)
    if not customer_id and not sequence_text:
        return page(request, "dashboard/similarity.html", context)
    sequence = [s.strip() for s in sequence_text.replace(">", ",").split(",") if s.strip()]
    try:
        kwargs = {"customer_id": customer_id} if customer_id else {"sequence": sequence}
        result = journey_selectors.similar_journeys(k=k, threshold=threshold, **kwargs)
    except (ValueError, LookupError) as exc:
        return page(request, "dashboard/similarity.html", {**context, "error": str(exc)})
    table = c360.similarity_table(result, f"The {k} most similar journeys")
    context.update(result=result, table=table, query=" > ".join(result.query))
    return page(request, "dashboard/similarity.html", context, tables={"similar": table})
