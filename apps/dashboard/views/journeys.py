"""Journey explorer (Sankey with drill-down), top journeys and the funnel builder."""
from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html

from apps.dashboard import figures
from apps.dashboard.customer_lists import customer_page, page_bounds
from apps.dashboard.journey_filters import CHANNELS, flag, read_filters
from apps.dashboard.roles import ANALYST, VIEWER, role_required
from apps.dashboard.tables import Column, Table
from apps.dashboard.views.common import page, parse_int
from apps.journeys import selectors as journey_selectors
from apps.journeys.models import MilestoneDefinition

NODE_COLUMNS = [Column("step", "Step", True), Column("event", "Event"), Column("customers", "Customers", True),
                Column("dropped", "Journey ends here", True)]
STEP_COLUMNS = [Column("step", "Step", True), Column("customers", "Customers", True),
                Column("dropped", "Dropped here", True), Column("dropoff", "Drop-off %", True)]


def explorer_options(request: HttpRequest) -> dict[str, Any]:
    """The explorer's own parameters: event of interest, direction, step limit, folding."""
    q = request.GET
    direction = "to" if q.get("direction") == "to" else "from"
    return {"event": (q.get("event") or "").strip(), "direction": direction,
            "steps": parse_int(q.get("steps"), field="steps", default=5, lo=1, hi=20),
            "min_count": parse_int(q.get("min_count"), field="min_count", default=0, lo=1, hi=1_000_000),
            "with_channel": flag(q, "with_channel"), "collapse": flag(q, "collapse")}


def _choices() -> dict[str, Any]:
    """Milestones a person can filter on (slug, name) and the channels that have events."""
    definitions = MilestoneDefinition.objects.filter(active=True).order_by("name")
    return {"milestones": list(definitions.values_list("slug", "name")), "channel_choices": channels_with_events(),
            "category_choices": journey_selectors.contact_categories()}


def channels_with_events() -> list[str]:
    """Channels that have events (the store's catalogue, kept with the engine's results)."""
    return journey_selectors.known_channels() or list(CHANNELS)


def no_events_message(form: Any) -> str:
    """Why a page has nothing to draw: the filters that left no events."""
    values = form.values
    parts = [f"from {values['since']}" if values["since"] else "",
             f"until {values['until']}" if values["until"] else "",
             f"channels {', '.join(values['channel'])}" if values["channel"] else "",
             f"segment {values['segment']}" if values["segment"] else "",
             f"milestone {values['milestone']}" if values["milestone"] else "",
             f"contacts matching {', '.join(values['category'])}" if values.get("category") else "",
             f"contact sentiment {values.get('sentiment_min') or -5} to {values.get('sentiment_max') or 5}"
             if values.get("sentiment_min") or values.get("sentiment_max") else ""]
    chosen = "; ".join(p for p in parts if p)
    return f"No events match these filters{f' ({chosen})' if chosen else ''}. Widen the dates or clear a filter."


def unknown_events(counts: journey_selectors.EventTypeCounts, wanted: list[str], consequence: str = "") -> list[str]:
    """A message per event type nobody has under the filters, naming the ones that exist."""
    known = ", ".join(t for t, _ in popular_events(counts)[:12])
    return [f"No customer has the event {event!r} for these filters{consequence}. Events that exist: {known}."
            for event in wanted if event and event not in counts.types]


LINKS_SHOWN = 200


def auto_min_count(counts: journey_selectors.EventTypeCounts) -> int:
    """Without a choice, fold branches taken by under 1% of the customers, so the Sankey stays readable."""
    return max(1, counts.customers // 100)


def popular_events(counts: journey_selectors.EventTypeCounts, limit: int = 40) -> list[tuple[str, int]]:
    """The most common event types and how many customers have each: what a person can ask about."""
    return list(counts.by_type[:limit])




@role_required(VIEWER)
def explorer(request: HttpRequest) -> HttpResponse:
    base: dict[str, Any] = {"title": "Journey explorer", **_choices()}
    try:
        form = read_filters(request.GET)
        options = explorer_options(request)
    except ValueError as exc:
        return page(request, "dashboard/explorer.html", {**base, "errors": [str(exc)], "form": {}, "opt": {}})
    base.update(form=form.values, opt=options, errors=form.errors)
    event = options["event"] or None
    backward = options["direction"] == "to"
    try:  # a channel, milestone or event no event carries is a message, not an error page
        counts = journey_selectors.event_type_counts(form.filters)
        options["min_count"] = options["min_count"] or auto_min_count(counts)
        base["popular"] = popular_events(counts)
        if not counts.customers:
            return page(request, "dashboard/explorer.html",
                        {**base, "errors": [*form.errors, no_events_message(form)]})
        missing_event = unknown_events(counts, [options["event"]])
        if missing_event:
            return page(request, "dashboard/explorer.html", {**base, "errors": [*form.errors, *missing_event]})
        result = journey_selectors.journey_paths(
            filters=form.filters, steps=options["steps"], min_count=options["min_count"],
            with_channel=options["with_channel"], collapse_repeats=options["collapse"],
            start_event=None if backward else event, end_event=event if backward else None)
    except ValueError as exc:
        return page(request, "dashboard/explorer.html", {**base, "errors": [*form.errors, str(exc)]})
    what = f"{'to' if options['direction'] == 'to' else 'from'} {options['event'] or 'the first event'}"
    label = (f"Sankey of customer paths {what}, {options['steps']} steps, {result.anchored_customers} of "
             f"{result.total_customers} customers")
    query = request.GET.copy()
    query.pop("format", None)
    query.pop("table", None)
    query["min_count"] = str(options["min_count"])
    chart = figures.sankey("paths", label, result, drill=reverse("dashboard:explorer_customers"),
                           drill_query=query.urlencode(), target="#drill")
    steps = Table("steps", "Customers and drop-off at each step", STEP_COLUMNS,
                  [{"step": s.step, "customers": s.customers, "dropped": s.dropped,
                    "dropoff": round(s.dropoff_rate * 100, 1)} for s in result.steps])
    links = chart.table
    assert links is not None
    drill_base = f"{reverse('dashboard:explorer_customers')}?{chart.drill_query}"
    shown = [{**row, "drill": f"{drill_base}&link={quote(row['source'] + '|' + row['target'])}"}
             for row in sorted(links.rows, key=lambda r: -r["customers"])[:LINKS_SHOWN]]
    nodes = Table("nodes", "Customers at each event and step (the boxes of the chart)", NODE_COLUMNS,
                  [{"step": n.step, "event": n.label, "customers": n.customers, "dropped": n.dropped,
                    "drill": f"{drill_base}&node={quote(n.id)}"} for n in result.nodes], links={"customers": "drill"})
    context = {**base, "result": result, "chart": replace(chart, table=None), "steps": steps, "links": links,
               "links_shown": shown, "nodes": nodes, "popular": popular_events(counts)}
    return page(request, "dashboard/explorer.html", context,
                tables={"links": links, "steps": steps, "nodes": nodes})


@role_required(VIEWER)
def explorer_customers(request: HttpRequest) -> HttpResponse:
    """The customers behind a clicked node (`node=2:app_login`) or link (`link=1:a|2:b`): an HTMX partial,
    or a full page / CSV when opened directly."""
    try:
        form = read_filters(request.GET)
        options = explorer_options(request)
        node, link = request.GET.get("node") or "", request.GET.get("link") or ""
        nodes = link.split("|") if link else [node]
        offset, limit = page_bounds(request)
        min_count = options["min_count"] or auto_min_count(journey_selectors.event_type_counts(form.filters))
        question: dict[str, Any] = {
            "nodes": nodes, "filters": form.filters, "anchor": options["event"] or None,
            "backward": options["direction"] == "to", "steps": options["steps"], "min_count": min_count,
            "with_channel": options["with_channel"], "collapse_repeats": options["collapse"]}
        found = journey_selectors.path_customers_page(**question, offset=offset, limit=limit)
    except ValueError as exc:
        return HttpResponse(format_html('<p class="error" role="alert">{}</p>', str(exc)), status=400)
    what = " → ".join(f"step {step}: {label}" for step, _, label in (n.partition(":") for n in nodes))
    listing = customer_page(request, found, everyone=lambda: journey_selectors.path_customers(**question),
                            name="path-customers", caption=f"{found.count} customers at {what}")
    context = {"table": listing.table, "listing": listing, "what": what, "count": found.count}
    if request.htmx:  # type: ignore[attr-defined]
        query = request.GET.copy()
        query["format"] = "csv"
        return render(request, "dashboard/partials/path_customers.html",
                      {**context, "csv": f"{request.path}?{query.urlencode()}"})
    return page(request, "dashboard/path_customers.html", {"title": "Customers behind a path", **context},
                tables={"customers": listing.everyone})


TOP_COLUMNS = [Column("rank", "Rank", True), Column("journey", "Journey"), Column("customers", "Customers", True),
               Column("share", "Share of customers %", True), Column("median", "Median duration (h)", True)]


@role_required(VIEWER)
def top_journeys(request: HttpRequest) -> HttpResponse:
    base: dict[str, Any] = {"title": "Top journeys", **_choices()}
    try:
        form = read_filters(request.GET)
        max_steps = parse_int(request.GET.get("max_steps"), field="max_steps", default=4, lo=1, hi=20)
        limit = parse_int(request.GET.get("limit"), field="limit", default=20, lo=1, hi=200)
        with_channel = flag(request.GET, "with_channel")
        result = journey_selectors.top_journeys(filters=form.filters, max_steps=max_steps,
                                                with_channel=with_channel, limit=limit)
    except ValueError as exc:
        return page(request, "dashboard/top_journeys.html", {**base, "errors": [str(exc)], "form": {}, "opt": {}})
    rows: list[dict[str, Any]] = [{"rank": i, "journey": " → ".join(j.steps), "customers": j.customers,
             "share": round(j.share * 100, 2), "median": round(j.median_duration_ms / 3_600_000, 2),
             "funnel": _funnel_url(j.steps)} for i, j in enumerate(result.journeys, start=1)]
    table = Table("top_journeys", f"The {len(rows)} most frequent journeys of up to {max_steps} steps, "
                  f"of {result.total_customers} customers", TOP_COLUMNS, rows, links={"journey": "funnel"})
    chart = figures.bars("top-chart", f"Customers per journey (top {min(len(rows), 10)})",
                         [r["journey"] for r in rows[:10]], [r["customers"] for r in rows[:10]], x_title="customers")
    empty = [] if result.total_customers else [no_events_message(form)]
    context = {**base, "form": form.values, "errors": [*form.errors, *empty], "table": table, "chart": chart,
               "opt": {"max_steps": max_steps, "limit": limit, "with_channel": with_channel}}
    return page(request, "dashboard/top_journeys.html", context, tables={"top_journeys": table})


def _funnel_url(steps: tuple[str, ...]) -> str:
    query = "&".join(f"step={s}" for s in steps if "@" not in s)
    return f"{reverse('dashboard:funnel')}?{query}"


FUNNEL_COLUMNS = [Column("step", "Step", True), Column("event", "Event"), Column("customers", "Customers", True),
                  Column("from_start", "Conversion from start %", True),
                  Column("from_previous", "Conversion from previous %", True),
                  Column("dropped", "Dropped after", True), Column("median", "Median time from previous (h)", True)]


def funnel_rows(steps: Any, channel: str = "", query: str = "") -> list[dict[str, Any]]:
    base = f"{reverse('dashboard:funnel_customers')}?{query}&at="
    suffix = f"&entry_channel={quote(channel)}" if channel else ""
    return [{"channel": channel, "step": s.step, "event": s.event, "customers": s.customers,
             "reached_url": f"{base}{s.step}{suffix}", "dropped_url": f"{base}{s.step}&dropped=1{suffix}",
             "from_start": round(s.conversion_from_start * 100, 2),
             "from_previous": round(s.conversion_from_previous * 100, 2), "dropped": s.dropped,
             "median": None if s.median_ms_from_previous is None else round(s.median_ms_from_previous / 3_600_000, 2)}
            for s in steps]


@role_required(ANALYST)
def funnel(request: HttpRequest) -> HttpResponse:
    """Ordered steps (`step=` repeated), an optional window in hours, conversion per step, by channel."""
    steps = [s.strip() for s in request.GET.getlist("step") if s.strip()]
    shown = steps + [""] * max(2 - len(steps), 1 if request.GET.get("add") else 0)
    base: dict[str, Any] = {"title": "Funnel builder", "steps": shown, **_choices()}
    try:
        form = read_filters(request.GET)
        window_h = parse_int(request.GET.get("window_hours"), field="window_hours", default=0, lo=0, hi=24 * 365)
    except ValueError as exc:
        return page(request, "dashboard/funnel.html", {**base, "errors": [str(exc)], "form": {}})
    base.update(form=form.values, errors=form.errors, window_hours=window_h or "")
    if len(steps) < 2:
        return page(request, "dashboard/funnel.html", {**base, "hint": "Add at least two steps."})
    counts = journey_selectors.event_type_counts(form.filters)
    problems = ([no_events_message(form)] if not counts.customers else
                unknown_events(counts, steps, ", so nobody can reach that step"))
    if problems:
        return page(request, "dashboard/funnel.html", {**base, "errors": [*form.errors, *problems]})
    try:
        result = journey_selectors.funnel(events_in_order=steps, filters=form.filters,
                                          window_ms=window_h * 3_600_000 or None, by_channel=True)
    except ValueError as exc:
        return page(request, "dashboard/funnel.html", {**base, "errors": [*form.errors, str(exc)]})
    query = _funnel_query(request)
    drill_links = {"customers": "reached_url", "dropped": "dropped_url"}
    table = Table("funnel", "Conversion per step (follow a number to list those customers)", FUNNEL_COLUMNS,
                  funnel_rows(result.steps, query=query), links=drill_links)
    breakdown_rows = [row for channel, ch_steps in sorted(result.by_channel.items())
                      for row in funnel_rows(ch_steps, channel, query)]
    breakdown = Table("by_channel", "Conversion per step by the channel of the first step",
                      [Column("channel", "Entry channel"), *FUNNEL_COLUMNS], breakdown_rows, links=drill_links)
    chart = figures.bars("funnel-chart", f"Customers reaching each step of {' → '.join(steps)}",
                         [f"{s.step}. {s.event}" for s in result.steps], [s.customers for s in result.steps],
                         x_title="customers")
    context = {**base, "table": table, "breakdown": breakdown, "chart": chart}
    return page(request, "dashboard/funnel.html", context, tables={"funnel": table, "by_channel": breakdown})


def _funnel_query(request: HttpRequest) -> str:
    query = request.GET.copy()
    for key in ("format", "table", "add", "at", "dropped", "entry_channel"):
        query.pop(key, None)
    return query.urlencode()


@role_required(ANALYST)
def funnel_customers(request: HttpRequest) -> HttpResponse:
    """Drill-down: the customers who reached step `at` (or, with `dropped=1`, reached it and went no further)."""
    steps = [s.strip() for s in request.GET.getlist("step") if s.strip()]
    try:
        form = read_filters(request.GET)
        at = parse_int(request.GET.get("at"), field="at", default=1, lo=1, hi=max(len(steps), 1))
        window_h = parse_int(request.GET.get("window_hours"), field="window_hours", default=0, lo=0, hi=24 * 365)
        dropped = request.GET.get("dropped") == "1"
        channel = request.GET.get("entry_channel") or None
        offset, limit = page_bounds(request)
        question: dict[str, Any] = {"events_in_order": steps, "step": at, "filters": form.filters,
                                    "window_ms": window_h * 3_600_000 or None, "dropped": dropped, "channel": channel}
        found = journey_selectors.funnel_customers_page(**question, offset=offset, limit=limit)
    except ValueError as exc:
        return page(request, "dashboard/simple.html", {"title": "Funnel customers", "error": str(exc)})
    what = f"{'dropped after' if dropped else 'reached'} step {at} ({steps[at - 1]})"
    if channel:
        what += f", entering through {channel}"
    listing = customer_page(request, found, everyone=lambda: journey_selectors.funnel_customers(**question),
                            name="funnel_customers", caption=f"{found.count} customers who {what}")
    back = f"{reverse('dashboard:funnel')}?{_funnel_query(request)}"
    return page(request, "dashboard/path_customers.html",
                {"title": "Funnel customers", "table": listing.table, "listing": listing, "what": what,
                 "count": found.count, "back": back},
                tables={"customers": listing.everyone})
