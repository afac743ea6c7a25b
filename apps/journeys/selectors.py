"""Reads for journey analytics: whole-population analyses run on the analytics engine over the event
store (apps.events), with the question's filters pushed into the engine; stored KPIs, milestones and
similarity come from the database and the index. Views and the dashboard call these."""
from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from apps.customers import selectors as customer_selectors
from apps.events import engine as analytics_engine
from apps.events.analytics import drill as engine_drill
from apps.events.analytics import frames
from apps.events.analytics import journeys as analytics
from apps.journeys import index as similarity_index
from apps.journeys.analyzers import drill, frequency, funnels, paths
from apps.journeys.analyzers.base import SEPARATOR, CleaningRule, token_series
from apps.journeys.analyzers.similarity import SimilarityResult
from apps.journeys.models import KpiDefinition, KpiValue, MilestoneDefinition, MilestoneReach
from graph import journeys as graph_journeys


@dataclass(frozen=True)
class JourneyFilters:
    """Which events and customers a question is about. Customer-level filters (segment, attribute,
    milestone reached) become a customer id list before the engine reads the events."""

    since_ms: int | None = None
    until_ms: int | None = None
    channels: tuple[str, ...] = ()
    segment: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    milestone: str | None = None
    # contacts (apps.conversations' summaries, in the event store's contacts table): only customers with a
    # contact that matched any of these categories, with the customer's sentiment in [min, max]; a path
    # anchored on an event starts (or ends) at such a contact
    categories: tuple[str, ...] = ()
    sentiment_min: float | None = None
    sentiment_max: float | None = None


def _customer_ids(filters: JourneyFilters) -> list[str] | None:
    wanted: set[str] | None = None
    if filters.milestone:
        if not MilestoneDefinition.objects.filter(slug=filters.milestone).exists():
            known = ", ".join(MilestoneDefinition.objects.order_by("slug").values_list("slug", flat=True))
            raise analytics_engine.UnknownValueError(
                f"unknown milestone {filters.milestone!r}; known: {known or 'none defined'}", parameter="milestone")
        wanted = set(MilestoneReach.objects.filter(milestone__slug=filters.milestone)
                     .values_list("customer_id", flat=True))
    if filters.segment:  # the segment index, not every customer's attributes
        in_segment = set(customer_selectors.customers_in_segment(filters.segment))
        if not in_segment:  # a mistyped segment is named, as an unknown milestone or channel is
            known = ", ".join(customer_selectors.segment_names())
            raise analytics_engine.UnknownValueError(
                f"unknown segment {filters.segment!r}; known: {known or 'none: no customer has a segment'}",
                parameter="segment")
        wanted = in_segment if wanted is None else wanted & in_segment
    conditions = dict(filters.attributes)
    if conditions:
        # the store reads only customers whose attributes hold the values' text; a customer without an
        # attribute reads as "None", so such a condition cannot narrow the read
        mentioning = {k: v for k, v in conditions.items() if v != "None"}
        attributes = graph_journeys.customer_attributes(sorted(wanted) if wanted is not None else None,
                                                        mentioning=mentioning)
        matching = {c for c, attrs in attributes.items()
                    if all(str(attrs.get(k)) == v for k, v in conditions.items())}
        wanted = matching if wanted is None else wanted & matching
    return sorted(wanted) if wanted is not None else None


def _question(filters: JourneyFilters | None) -> tuple[analytics_engine.Engine, analytics_engine.EventFilter]:
    """The engine and the event filter for the question; a channel no event carries is an error."""
    filters = filters or JourneyFilters()
    engine = analytics_engine.get_engine()
    with analytics_engine.about("channel"):
        engine.check_known("channel", filters.channels)
    with analytics_engine.about("category"):
        engine.check_known("category", filters.categories)
    customer_ids = _customer_ids(filters)
    flt = analytics_engine.EventFilter(since_ms=filters.since_ms, until_ms=filters.until_ms,
                                       channels=tuple(filters.channels),
                                       customer_ids=tuple(customer_ids) if customer_ids is not None else None,
                                       categories=tuple(filters.categories), sentiment_min=filters.sentiment_min,
                                       sentiment_max=filters.sentiment_max)
    return engine, flt


def contact_categories() -> list[str]:
    """The contact categories a question may filter on (those of the contacts in the event store)."""
    return list(analytics_engine.get_engine().catalog()["category"])


def events(filters: JourneyFilters | None = None, *, columns: Sequence[str] = frames.FRAME_COLUMNS) -> pd.DataFrame:
    """The events the filters select, as the canonical frame in journey order (ts, then arrival); ask
    for fewer `columns` when the rest is not needed (attributes are the costly part to decode)."""
    engine, flt = _question(filters)
    return frames.events_frame(engine, flt, columns=columns)


@dataclass(frozen=True)
class EventTypeCounts:
    """How many customers the filters select, and how many of them have each event type (most
    customers first, then by name): what a page needs to say what exists without reading events."""

    customers: int
    by_type: tuple[tuple[str, int], ...]

    @property
    def types(self) -> frozenset[str]:
        return frozenset(t for t, _ in self.by_type)


def event_type_counts(filters: JourneyFilters | None = None) -> EventTypeCounts:
    """Two aggregates on the engine (cached with its results until the store changes)."""
    engine, flt = _question(filters)

    def compute() -> EventTypeCounts:
        table = engine.events(flt)
        total = int(engine.execute(table.customer_id.nunique()) or 0)
        per = engine.execute(table.group_by("type").aggregate(customers=table.customer_id.nunique()))
        rows = sorted(((str(t), int(n)) for t, n in zip(per["type"], per["customers"], strict=True)),
                      key=lambda tn: (-tn[1], tn[0]))
        return EventTypeCounts(customers=total, by_type=tuple(rows))
    return engine.cached(("event_type_counts", flt.key()), compute)


def known_channels() -> list[str]:
    """Every channel some event in the store carries."""
    return list(analytics_engine.get_engine().catalog()["channel"])


def _path_found(nodes: Sequence[str], filters: JourneyFilters | None, options: dict[str, Any]
                ) -> tuple[analytics_engine.Engine, Hashable, Any]:
    refs = [drill.NodeRef.parse(node) for node in nodes]
    engine, flt = _question(filters)
    return engine, flt.key(), engine_drill.path_customers(engine, flt, nodes=refs, **options)


def path_customers(*, nodes: Sequence[str], filters: JourneyFilters | None = None, anchor: str | None = None,
                   backward: bool = False, steps: int = 5, min_count: int = 1, with_channel: bool = False,
                   collapse_repeats: bool = False) -> list[str]:
    """Every customer behind a box (`2:app_login`) or a band (its two ends) of `journey_paths` with the
    same arguments, sorted by id (for a download; a page is `path_customers_page`); a malformed node
    is a ValueError."""
    options: dict[str, Any] = {"anchor": anchor, "backward": backward, "steps": steps, "min_count": min_count,
                               "with_channel": with_channel, "collapse_repeats": collapse_repeats}
    if filters is not None and _by_contact(filters) and anchor is not None:
        return _matched_path_customers(nodes, filters, **options)
    engine, _, found = _path_found(nodes, filters, options)
    return engine_drill.every_id(engine, found)


def path_customers_page(*, nodes: Sequence[str], filters: JourneyFilters | None = None, anchor: str | None = None,
                        backward: bool = False, steps: int = 5, min_count: int = 1, with_channel: bool = False,
                        collapse_repeats: bool = False, offset: int = 0, limit: int = 50) -> engine_drill.IdPage:
    """One page of the customers behind a box or a band, and how many there are: selected, counted
    and paged in the engine (in Python when a contact filter moves the anchor)."""
    options: dict[str, Any] = {"anchor": anchor, "backward": backward, "steps": steps, "min_count": min_count,
                               "with_channel": with_channel, "collapse_repeats": collapse_repeats}
    if filters is not None and _by_contact(filters) and anchor is not None:
        every = _matched_path_customers(nodes, filters, **options)
        return engine_drill.IdPage(count=len(every), offset=offset, limit=limit,
                                   ids=tuple(every[offset:offset + limit]))
    engine, question, found = _path_found(nodes, filters, options)
    key = ("path_page", tuple(nodes), question, tuple(sorted(options.items())), offset, limit)
    return engine.cached(key, lambda: engine_drill.page(engine, found, offset=offset, limit=limit))


def customer_count(filters: JourneyFilters | None = None) -> int:
    """How many customers the filters select (what a path analysis calls its total)."""
    engine, flt = _question(filters)
    return engine.cached(("customers", flt.key()), lambda: analytics.total_customers(engine, flt))


def _matched_path_customers(nodes: Sequence[str], filters: JourneyFilters, *, anchor: str, backward: bool,
                            steps: int, min_count: int, with_channel: bool, collapse_repeats: bool) -> list[str]:
    """The drill-down of a path anchored on matching contacts, on a frame of the filtered events."""
    refs = [drill.NodeRef.parse(node) for node in nodes]
    frame = events(filters, columns=("customer_id", "event_id", "type", "channel", "ts", "contact_match"))
    frame, anchor, refs = _anchored_on_matches(frame, anchor, refs, with_channel=with_channel)
    return drill.customers_at(frame, nodes=refs, anchor=anchor, backward=backward, steps=steps,
                              min_count=min_count, with_channel=with_channel, collapse_repeats=collapse_repeats)


def _by_contact(filters: JourneyFilters) -> bool:
    return bool(filters.categories) or filters.sentiment_min is not None or filters.sentiment_max is not None


MATCHED = "\u2063matched"  # a label no event type carries (an invisible separator first)


def _anchored_on_matches(frame: pd.DataFrame, anchor: str, refs: list[drill.NodeRef], *, with_channel: bool
                         ) -> tuple[pd.DataFrame, str, list[drill.NodeRef]]:
    """Under a contact filter a path is anchored on each customer's first matching contact with the
    anchor's label (as the engine's `journey_paths` does): that event alone is relabelled, so the
    drill-down's own rule (first occurrence of the anchor) finds it, and the anchor node follows."""
    labels = token_series(frame, with_channel=with_channel).to_numpy(dtype=object)
    rows = np.flatnonzero((labels == anchor) & frame["contact_match"].to_numpy(dtype=bool))
    _, first = np.unique(frame["customer_id"].to_numpy(dtype=object)[rows], return_index=True)
    frame = frame.copy()
    frame.loc[rows[first], "type"] = MATCHED
    moved = MATCHED + (SEPARATOR + anchor.rsplit(SEPARATOR, 1)[1] if with_channel else "")
    refs = [drill.NodeRef(r.step, moved) if r.step == 1 and r.label == anchor else r for r in refs]
    return frame, moved, refs


def top_journeys(*, filters: JourneyFilters | None = None, max_steps: int = 5, with_channel: bool = False,
                 limit: int = 20) -> frequency.TopJourneys:
    engine, flt = _question(filters)
    return engine.cached(("top", flt.key(), max_steps, with_channel, limit), lambda: analytics.top_journeys(
        engine, flt, max_steps=max_steps, with_channel=with_channel, limit=limit))


def journey_paths(*, filters: JourneyFilters | None = None, start_event: str | None = None,
                  end_event: str | None = None, steps: int = 5, min_count: int = 1, with_channel: bool = False,
                  cleaning_rules: Sequence[CleaningRule] = (), collapse_repeats: bool = False) -> paths.PathResult:
    """Raises UnknownValueError (a ValueError) for an anchor no event carries (before cleaning rules
    rename it; an anchor that only a rule produces is taken as given)."""
    engine, flt = _question(filters)
    if not cleaning_rules:
        for parameter, anchor in (("start_event", start_event), ("end_event", end_event)):
            with analytics_engine.about(parameter):
                analytics.check_labels(engine, [anchor], with_channel=with_channel)
    key = ("paths", flt.key(), start_event, end_event, steps, min_count, with_channel,
           tuple((r.pattern, r.replacement) if isinstance(r, CleaningRule) else tuple(r) for r in cleaning_rules),
           collapse_repeats)
    return engine.cached(key, lambda: analytics.journey_paths(
        engine, flt, start_event=start_event, end_event=end_event, steps=steps, min_count=min_count,
        with_channel=with_channel, cleaning_rules=cleaning_rules, collapse_repeats=collapse_repeats))


def _funnel_question(events_in_order: Sequence[str], filters: JourneyFilters | None, window_ms: int | None
                     ) -> tuple[analytics_engine.Engine, analytics_engine.EventFilter]:
    """The engine and filter for a funnel, its steps checked (an event type no event carries names `steps`)."""
    engine, flt = _question(filters)
    funnels.validate(events_in_order, window_ms)
    with analytics_engine.about("steps"):
        analytics.check_labels(engine, events_in_order)
    return engine, flt


def funnel(*, events_in_order: Sequence[str], filters: JourneyFilters | None = None, window_ms: int | None = None,
           by_channel: bool = False) -> funnels.FunnelResult:
    engine, flt = _funnel_question(events_in_order, filters, window_ms)
    key = ("funnel", flt.key(), tuple(events_in_order), window_ms, by_channel)
    return engine.cached(key, lambda: analytics.funnel(engine, flt, events=events_in_order, window_ms=window_ms,
                                                       by_channel=by_channel))


def _funnel_found(events_in_order: Sequence[str], step: int, filters: JourneyFilters | None,
                  window_ms: int | None, dropped: bool, channel: str | None
                  ) -> tuple[analytics_engine.Engine, Hashable, Any]:
    engine, flt = _funnel_question(events_in_order, filters, window_ms)
    with analytics_engine.about("entry_channel"):  # one no event carries answered no customer
        engine.check_known("channel", [channel] if channel else [])
    return engine, flt.key(), engine_drill.funnel_customers(engine, flt, events=events_in_order, step=step,
                                                 window_ms=window_ms, dropped=dropped, channel=channel)


def funnel_customers(*, events_in_order: Sequence[str], step: int, filters: JourneyFilters | None = None,
                     window_ms: int | None = None, dropped: bool = False, channel: str | None = None) -> list[str]:
    """Every customer at a funnel step (or who dropped after it), sorted by id: for a download."""
    engine, _, found = _funnel_found(events_in_order, step, filters, window_ms, dropped, channel)
    return engine_drill.every_id(engine, found)


def funnel_customers_page(*, events_in_order: Sequence[str], step: int, filters: JourneyFilters | None = None,
                          window_ms: int | None = None, dropped: bool = False, channel: str | None = None,
                          offset: int = 0, limit: int = 50) -> engine_drill.IdPage:
    """One page of the customers at a funnel step, and how many there are, paged in the engine."""
    engine, question, found = _funnel_found(events_in_order, step, filters, window_ms, dropped, channel)
    key = ("funnel_page", tuple(events_in_order), question, step, window_ms, dropped, channel,
           offset, limit)
    return engine.cached(key, lambda: engine_drill.page(engine, found, offset=offset, limit=limit))


def directly_follows(*, filters: JourneyFilters | None = None, with_channel: bool = False
                     ) -> frequency.DirectlyFollows:
    engine, flt = _question(filters)
    return engine.cached(("dfg", flt.key(), with_channel),
                         lambda: analytics.directly_follows(engine, flt, with_channel=with_channel))


def similar_journeys(*, customer_id: str | None = None, sequence: Sequence[str] | None = None,
                     threshold: float = 0.5, k: int = 10) -> SimilarityResult:
    """Raises KeyError (a LookupError) for a customer without events, ValueError for bad arguments
    (UnknownValueError naming an event type of `sequence` no event carries, as the other analyses do)."""
    if sequence:
        with analytics_engine.about("sequence"):
            analytics_engine.get_engine().check_known("type", sequence)
    index = similarity_index.get_index()
    with similarity_index.lock():
        return index.query(customer_id=customer_id, sequence=sequence, threshold=threshold, k=k,
                           use_lsh=similarity_index.lsh_perms() is not None)


@dataclass(frozen=True)
class CustomerMilestone:
    slug: str
    name: str
    ts: int
    event_id: str

    @property
    def when(self) -> str:
        return datetime.fromtimestamp(self.ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def customer_milestones(*, customer_id: str) -> list[CustomerMilestone]:
    rows = MilestoneReach.objects.filter(customer_id=customer_id).select_related("milestone").order_by("ts")
    return [CustomerMilestone(r.milestone.slug, r.milestone.name, r.ts, r.event_id) for r in rows]


@dataclass(frozen=True)
class KpiSeries:
    slug: str
    name: str
    unit: str
    period: str
    dimension: str
    dimension_value: str
    points: tuple[tuple[date, float], ...]
    detail: tuple[tuple[date, float, float, float], ...]  # period, value, numerator, denominator


def kpi_series(*, slug: str, period: str = "day", dimension: str = "all", dimension_value: str = "",
               since: date | None = None, until: date | None = None) -> KpiSeries:
    """Stored values of one KPI; raises KpiDefinition.DoesNotExist for an unknown slug."""
    definition = KpiDefinition.objects.get(slug=slug)
    values = KpiValue.objects.filter(definition=definition, period=period, dimension=dimension,
                                     dimension_value=dimension_value)
    if since:
        values = values.filter(period_start__gte=since)
    if until:
        values = values.filter(period_start__lte=until)
    rows = list(values.order_by("period_start").values_list("period_start", "value", "numerator", "denominator"))
    return KpiSeries(slug=definition.slug, name=definition.name, unit=definition.unit, period=period,
                     dimension=dimension, dimension_value=dimension_value,
                     points=tuple((r[0], r[1]) for r in rows), detail=tuple(rows))


def kpi_dimension_values(*, slug: str, period: str = "day") -> dict[str, list[str]]:
    """Which channels and segments have stored values, so a client can ask for their series."""
    rows = (KpiValue.objects.filter(definition__slug=slug, period=period).exclude(dimension="all")
            .values_list("dimension", "dimension_value").distinct().order_by("dimension", "dimension_value"))
    out: dict[str, list[str]] = {}
    for dimension, value in rows:
        out.setdefault(dimension, []).append(value)
    return out


def display_value(value: float, unit: str) -> float:
    """Stored rates are fractions (numerator / denominator); a "%" unit shows them as percentages."""
    return round(value * 100, 4) if unit == "%" else value


def headline_kpis(*, period: str = "day", last: int = 30) -> list[KpiSeries]:
    """Every active KPI's overall series (its last `last` periods) in display units, for dashboard cards."""
    out = []
    for definition in KpiDefinition.objects.filter(active=True).order_by("slug"):
        series = kpi_series(slug=definition.slug, period=period)
        points = tuple((d, display_value(v, series.unit)) for d, v in series.points[-last:])
        out.append(KpiSeries(**{**series.__dict__, "points": points, "detail": series.detail[-last:]}))
    return out


def kpi_widget(*, slug: str, period: str = "day") -> dict[str, Any]:
    """Latest value, the one before, and the recent points (in display units): what a small embedded
    widget shows."""
    series = kpi_series(slug=slug, period=period)
    points = [(d, display_value(v, series.unit)) for d, v in series.points[-14:]]
    latest = points[-1] if points else None
    previous = points[-2] if len(points) > 1 else None
    return {"slug": series.slug, "name": series.name, "unit": series.unit, "period": period,
            "latest": {"period_start": latest[0], "value": latest[1]} if latest else None,
            "previous": {"period_start": previous[0], "value": previous[1]} if previous else None,
            "change": round(latest[1] - previous[1], 6) if latest and previous else None,
            "points": [{"period_start": d, "value": v} for d, v in points]}


class UnknownKpi(ValueError):
    """A slug no KPI definition has (mistyped, or deleted since the recompute was asked for)."""


def kpi_definitions(slugs: Sequence[str]) -> list[KpiDefinition] | None:
    """The definitions named, in slug order (None for none named: every active one); an unknown slug
    is refused by name rather than recomputing nothing for it."""
    if not slugs:
        return None
    found = {d.slug: d for d in KpiDefinition.objects.filter(slug__in=slugs)}
    unknown = set(slugs) - set(found)
    if unknown:
        raise UnknownKpi(f"unknown KPI slug(s): {', '.join(sorted(unknown))}")
    return [found[slug] for slug in sorted(set(slugs))]
