"""Customer search, Customer 360 and the similarity explorer."""
from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from apps.dashboard import customer360 as c360
from apps.dashboard.roles import VIEWER, role_required
from apps.dashboard.sources import NotAvailable, call
from apps.dashboard.tables import Column, Table
from apps.dashboard.views.common import page, parse_int, unavailable

PAGE_SIZE = 50


@role_required(VIEWER)
def customers(request: HttpRequest) -> HttpResponse:
    """Find a customer by id or identifier (phone:+614…, email:…); otherwise list them a page at a time."""
    query = (request.GET.get("q") or "").strip()
    offset = max(0, int(request.GET.get("offset") or 0)) if (request.GET.get("offset") or "0").isdigit() else 0
    context: dict = {"title": "Customers", "q": query, "error": ""}
    try:
        if query and ":" in query:
            try:
                ids = call("apps.customers.selectors", "customers_with_identifier", text=query)
            except ValueError as exc:
                ids, context["error"] = [], str(exc)
            if len(ids) == 1:
                return HttpResponseRedirect(reverse("dashboard:customer", args=[ids[0]]))
        elif query:
            if call("apps.customers.selectors", "customer_summary", customer_id=query) is not None:
                return HttpResponseRedirect(reverse("dashboard:customer", args=[query]))
            ids, context["error"] = [], f"no customer with id {query!r}"
        else:
            ids = call("apps.customers.selectors", "customer_list", offset=offset, limit=PAGE_SIZE)
    except NotAvailable as exc:
        return page(request, "dashboard/customers.html", {**context, "missing": unavailable(exc)})
    rows = [{"customer_id": i, "url": reverse("dashboard:customer", args=[i])} for i in ids]
    table = Table("customers", "Customers" + (f" matching {query}" if query else f" from number {offset + 1}"),
                  [Column("customer_id", "Customer")], rows, links={"customer_id": "url"})
    context.update(table=table, offset=offset, next_offset=offset + PAGE_SIZE if len(ids) == PAGE_SIZE else None,
                   prev_offset=max(0, offset - PAGE_SIZE) if offset else None)
    return page(request, "dashboard/customers.html", context, tables={"customers": table})


@role_required(VIEWER)
def customer(request: HttpRequest, customer_id: str) -> HttpResponse:
    try:
        summary = call("apps.customers.selectors", "customer_summary", customer_id=customer_id)
    except NotAvailable as exc:
        return page(request, "dashboard/customer.html", {"title": customer_id, "missing": unavailable(exc)})
    if summary is None:
        raise Http404(f"no customer {customer_id!r}")
    try:
        offset = parse_int(request.GET.get("offset"), field="offset", default=0, lo=0, hi=10_000_000)
    except ValueError:
        offset = 0
    count, timeline = c360.timeline(customer_id, offset=offset, limit=PAGE_SIZE)
    identifiers = Table("identifiers", "Identifiers linked to this customer",
                        [Column("kind", "Kind"), Column("value", "Value"), Column("first_seen", "First seen")],
                        [{"kind": i["kind"], "value": i["value"], "first_seen": c360.fmt_ms(i.get("first_seen"))}
                         for i in summary.identifiers])
    context = {
        "title": f"Customer {customer_id}", "summary": summary, "customer_id": customer_id,
        "first_seen": c360.fmt_ms(summary.first_seen), "last_seen": c360.fmt_ms(summary.last_seen),
        "timeline": timeline, "identifiers": identifiers, "count": count, "offset": offset,
        "next_offset": offset + PAGE_SIZE if offset + PAGE_SIZE < count else None,
        "prev_offset": max(0, offset - PAGE_SIZE) if offset else None,
        "milestones": c360.milestones(customer_id), "scores": c360.scores(customer_id),
        "decisions": c360.latest_decisions(customer_id), "similar": c360.similar(customer_id),
        "predicted": c360.predicted(customer_id, summary), "conversations": c360.conversations(customer_id),
    }
    tables = {"timeline": timeline, "identifiers": identifiers}
    if context["similar"].data is not None:
        tables["similar"] = context["similar"].data
    return page(request, "dashboard/customer.html", context, tables=tables)


@role_required(VIEWER)
def similarity(request: HttpRequest) -> HttpResponse:
    """Pick a customer or type a sequence (comma or '>' separated) and see who journeys alike."""
    customer_id = (request.GET.get("customer") or "").strip()
    sequence_text = (request.GET.get("sequence") or "").strip()
    context: dict = {"title": "Similarity explorer", "customer": customer_id, "sequence": sequence_text, "error": ""}
    try:
        k = parse_int(request.GET.get("k"), field="k", default=10, lo=1, hi=100)
        threshold = float(request.GET.get("threshold") or c360.SIMILAR_THRESHOLD)
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold: must be above 0 and at most 1, got {threshold}")
    except ValueError as exc:
        return page(request, "dashboard/similarity.html",
                    {**context, "error": str(exc), "k": 10, "threshold": c360.SIMILAR_THRESHOLD})
    context.update(k=k, threshold=threshold)
    if not customer_id and not sequence_text:
        return page(request, "dashboard/similarity.html", context)
    sequence = [s.strip() for s in sequence_text.replace(">", ",").split(",") if s.strip()]
    try:
        kwargs = {"customer_id": customer_id} if customer_id else {"sequence": sequence}
        result = call("apps.journeys.selectors", "similar_journeys", k=k, threshold=threshold, **kwargs)
    except NotAvailable as exc:
        return page(request, "dashboard/similarity.html", {**context, "missing": unavailable(exc)})
    except (ValueError, LookupError) as exc:
        return page(request, "dashboard/similarity.html", {**context, "error": str(exc)})
    table = c360.similarity_table(result, f"The {k} most similar journeys")
    context.update(result=result, table=table, query=" > ".join(result.query))
    return page(request, "dashboard/similarity.html", context, tables={"similar": table})
