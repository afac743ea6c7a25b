"""Writes of journey analytics: milestone evaluation (reached edges, reach rows, webhook payloads),
KPI computation into the KPI store, and the hook the ingest service calls after each batch."""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from apps.customers import selectors as customer_selectors
from apps.events import engine as analytics_engine
from apps.events.analytics import kpis as analytics_kpis
from apps.events.analytics import milestones as analytics_milestones
from apps.journeys import index as similarity_index
from apps.journeys import webhooks
from apps.journeys.analyzers.base import sequences
from apps.journeys.analyzers.kpis import DAY_MS, KpiParams
from apps.journeys.analyzers.milestones import Reach, Trigger, first_reaches
from apps.journeys.models import KpiDefinition, KpiStaleDay, KpiValue, MilestoneDefinition, MilestoneReach
from graph import journeys as graph_journeys
from graph.schema import EventRecord

log = logging.getLogger(__name__)
EPOCH = date(1970, 1, 1)


# ---------------------------------------------------------------- milestones


def trigger_of(definition: MilestoneDefinition) -> Trigger:
    window = definition.window_seconds * 1000 if definition.window_seconds else None
    return Trigger(kind=definition.trigger, event_type=definition.event_type, sequence=tuple(definition.sequence or ()),
                   window_ms=window, attribute=definition.attribute, op=definition.op, value=definition.value)


def evaluate_milestones(*, frame: pd.DataFrame, definitions: Iterable[MilestoneDefinition] | None = None
                        ) -> list[MilestoneReach]:
    """Give customers in `frame` who newly satisfy a trigger their reach (once: customers who already
    reached a milestone are skipped), write the `reached` edges and queue webhook payloads."""
    if definitions is None:
        definitions = MilestoneDefinition.objects.filter(active=True)
    created: list[MilestoneReach] = []
    for definition in definitions:
        created.extend(record_first_reaches(definition, first_reaches(frame, trigger_of(definition))))
    return created


def record_first_reaches(definition: MilestoneDefinition, reaches: dict[str, Reach]) -> list[MilestoneReach]:
    """Record the reaches of customers who had not reached the milestone yet (a reach happens once):
    reach rows, `reached` edges and webhook payloads. Returns the new reaches."""
    if not reaches:
        return []
    already = set(MilestoneReach.objects.filter(milestone=definition, customer_id__in=list(reaches))
                  .values_list("customer_id", flat=True))
    rows = [MilestoneReach(milestone=definition, customer_id=r.customer_id, ts=r.ts, event_id=r.event_id)
            for c, r in sorted(reaches.items()) if c not in already]
    new = _record_reaches(rows)
    if new:
        graph_journeys.add_reached_many(definition.slug, [(r.customer_id, r.ts, r.event_id) for r in new],
                                        name=definition.name)
    return new


def _record_reaches(rows: list[MilestoneReach]) -> list[MilestoneReach]:
    """Insert reach rows with their webhook payloads in one go; if another worker recorded some of
    them meanwhile, fall back to one row at a time so each reach still happens (and notifies) once."""
    try:
        with transaction.atomic():
            _insert_reaches(rows)
            webhooks.enqueue_milestone_reached_many(reaches=rows)
        return rows
    except IntegrityError:
        pass
    created = []
    for row in rows:
        try:
            with transaction.atomic():
                row.pk = None
                row.save()
                webhooks.enqueue_milestone_reached_many(reaches=[row])
            created.append(row)
        except IntegrityError:  # reached concurrently by another worker: once means once
            continue
    return created


REACH_COLUMNS = ("milestone", "customer_id", "ts", "event_id", "created_at")


def _insert_reaches(rows: list[MilestoneReach]) -> None:
    """Reach rows as one parameterised INSERT run over all of them. A bulk load can bring thousands
    of first reaches per follow-up, and the ORM's bulk_create spends most of its time per object
    (field preparation, SQL compiling): about four times this statement's cost."""
    meta = MilestoneReach._meta
    columns = ", ".join(connection.ops.quote_name(_column(name)) for name in REACH_COLUMNS)
    now = timezone.now()
    for row in rows:
        row.created_at = now
    created = connection.ops.adapt_datetimefield_value(now)
    sql = f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns}) VALUES (%s, %s, %s, %s, %s)"
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(r.milestone_id, r.customer_id, r.ts, r.event_id, created) for r in rows])


def _column(field_name: str) -> str:
    field = MilestoneReach._meta.get_field(field_name)
    assert isinstance(field, models.Field) and field.column
    return field.column


class UnknownMilestone(ValueError):
    """A slug no milestone definition has (mistyped, or deleted since the backfill was asked for)."""


def backfill_milestones(*, slugs: Sequence[str] = (), customer_ids: Sequence[str] | None = None
                        ) -> dict[str, int]:
    """Apply definitions to the whole history (or some customers); returns new reaches per slug."""
    definitions = MilestoneDefinition.objects.filter(active=True)
    if slugs:
        definitions = MilestoneDefinition.objects.filter(slug__in=slugs)
        unknown = set(slugs) - set(definitions.values_list("slug", flat=True))
        if unknown:
            raise UnknownMilestone(f"unknown milestone slug(s): {', '.join(sorted(unknown))}")
    engine = analytics_engine.get_engine()
    flt = analytics_engine.EventFilter(customer_ids=tuple(customer_ids) if customer_ids is not None else None)
    counts = {d.slug: 0 for d in definitions}
    for definition in definitions:  # each trigger is one engine query; one row per customer comes back
        reaches = analytics_milestones.first_reaches(engine, flt, trigger_of(definition))
        counts[definition.slug] += len(record_first_reaches(definition, reaches))
    return counts


# ---------------------------------------------------------------- KPIs


def _day(ms: int) -> date:
    return EPOCH + timedelta(days=ms // DAY_MS)


def _ms(day: date) -> int:
    return (day - EPOCH).days * DAY_MS


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _segments(customers: list[str]) -> dict[str, str]:
    """The customers' segments from the segment index (apps.customers), not their attributes."""
    if not customers:
        return {}
    every = customer_selectors.segments()
    return {c: every[c] for c in customers if c in every}


def _params(definition: KpiDefinition) -> KpiParams:
    params = dict(definition.params or {})
    reached = {}
    if definition.kind == "milestone_conversion":
        reached = dict(MilestoneReach.objects.filter(milestone__slug=params.get("milestone", ""))
                       .values_list("customer_id", "ts"))
    return KpiParams.from_json(params, reached_ms=reached)


@dataclass(frozen=True)
class KpiRecompute:
    definitions: int
    values: int
    first_day: date | None
    last_day: date | None


def recompute_kpis(*, days: Iterable[date] | None = None, definitions: Iterable[KpiDefinition] | None = None
                   ) -> KpiRecompute:
    """Recompute stored values for the periods containing `days` (all periods with events when None):
    days themselves and the weeks they fall in, overall, per channel and per segment."""
    definitions = list(definitions if definitions is not None else KpiDefinition.objects.filter(active=True))
    wanted = sorted(set(days)) if days is not None else None
    if wanted == [] or not definitions:
        return KpiRecompute(len(definitions), 0, None, None)
    first = _week_start(wanted[0]) if wanted else None
    last = wanted[-1] + timedelta(days=7 - wanted[-1].weekday()) if wanted else None
    lookback = max(int((d.params or {}).get("window_days", 7)) for d in definitions) + 1
    engine = analytics_engine.get_engine()
    flt = analytics_engine.EventFilter(since_ms=_ms(first - timedelta(days=lookback)) if first else None,
                                       until_ms=_ms(last) if last else None)
    span = analytics_kpis.active_range(engine, flt)
    if span is None:
        return KpiRecompute(len(definitions), 0, first, last)
    segments = _segments(analytics_kpis.customers(engine, flt))
    written = 0
    for definition in definitions:
        params = _params(definition)
        for period in ("day", "week"):
            starts = None if wanted is None else {d if period == "day" else _week_start(d) for d in wanted}
            written += _store(definition, period, starts, analytics_kpis.kpi_points(
                engine, flt, kind=definition.kind, params=params, period=period, segments=segments,
                since_ms=_ms(first) if first else None))
    return KpiRecompute(len(definitions), written, first or _day(span[0]), last or _day(span[1]))


def _store(definition: KpiDefinition, period: str, starts: set[date] | None, points: Iterable) -> int:
    rows = [KpiValue(definition=definition, period=period, period_start=p.period_start, dimension=p.dimension,
                     dimension_value=p.dimension_value, value=p.value, numerator=p.numerator,
                     denominator=p.denominator)
            for p in points if starts is None or p.period_start in starts]
    with transaction.atomic():
        stale = KpiValue.objects.filter(definition=definition, period=period)
        if starts is not None:
            stale = stale.filter(period_start__in=starts)
        stale.delete()
        KpiValue.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def mark_kpi_days_stale(*, ts_ms: Iterable[int]) -> int:
    """Mark the days these event times fall on (distinct days first: a batch has thousands of times
    and a handful of days)."""
    day_numbers = np.unique(np.fromiter(ts_ms, dtype=np.int64) // DAY_MS)
    days = {_day(int(n) * DAY_MS) for n in day_numbers}
    KpiStaleDay.objects.bulk_create([KpiStaleDay(day=d) for d in days], ignore_conflicts=True)
    return len(days)


def recompute_stale_kpis() -> KpiRecompute:
    """Recompute the days marked stale by ingest, then clear the marks that were handled."""
    marks = list(KpiStaleDay.objects.order_by("day"))
    result = recompute_kpis(days=[m.day for m in marks])
    KpiStaleDay.objects.filter(pk__in=[m.pk for m in marks]).delete()
    return result


# ---------------------------------------------------------------- ingest hook


@dataclass(frozen=True)
class IngestFollowUp:
    customers: int
    milestones_reached: int
    index_updated: int
    kpi_days_marked: int
    kpi_values_written: int


def _kpis_due() -> bool:
    """Recompute in line only for live ingest: at most JOURNEYS_KPI_SYNC_DAYS stale days (default 3;
    a bulk load touching more is left to the command), and at most once per
    JOURNEYS_KPI_SYNC_SECONDS (default 60: a day's values are not re-read for every small batch)."""
    if KpiStaleDay.objects.count() > int(getattr(settings, "JOURNEYS_KPI_SYNC_DAYS", 3)):
        return False
    wait = timedelta(seconds=float(getattr(settings, "JOURNEYS_KPI_SYNC_SECONDS", 60)))
    return KpiStaleDay.objects.filter(marked_at__lte=timezone.now() - wait).exists()


def milestone_horizon(earliest_ms: int) -> int | None:
    """The earliest event time that can complete a milestone with an event at or after `earliest_ms`:
    sequence triggers look back over their window; a sequence without a window needs whole journeys
    (None). Event-type and attribute triggers need only the new events. Reaches are recorded once, so
    a trigger met before these events was recorded when those events landed (or by a backfill)."""
    windows = [d.window_seconds for d in MilestoneDefinition.objects.filter(active=True, trigger="sequence")]
    if any(w is None or w == 0 for w in windows):
        return None
    return earliest_ms - max((int(w) for w in windows if w), default=0) * 1000


def on_events_ingested(customer_ids: Sequence[str], *, event_ts: Iterable[int] | None = None,
                       events: Sequence[EventRecord] | None = None, recompute: bool | None = None
                       ) -> IngestFollowUp:
    """Called by ingest after each batch with the customers it touched (and, from the ingest service,
    the new events themselves). Milestones, the similarity index and the KPI stale marks follow.
    With an index in this process, one read of the touched customers' journeys feeds both. Without
    one (a bulk load from the command line) milestones are evaluated from the new events, reading
    only what can complete a sequence (see `_reaches_from_new_events`); the index catches up from
    the store on its next query. `event_ts` (the batch's event times) narrows the stale days to
    those the batch touched. Stale KPI periods are recomputed here when they are due (see
    `_kpis_due`), otherwise left marked for a later batch or `recompute_kpis --stale`, so the hook
    stays cheap. `recompute` forces either way."""
    ids = sorted(set(customer_ids))
    if not ids:
        return IngestFollowUp(0, 0, 0, 0, 0)
    times = np.asarray(list(event_ts), dtype=np.int64) if event_ts is not None else None
    updated = 0
    if events is not None and not similarity_index.is_built():
        reached = _reaches_from_new_events(events)
    else:
        frame = graph_journeys.events_frame(customer_ids=ids, since_ms=_follow_up_since(times))
        reached = evaluate_milestones(frame=frame)
        updated = similarity_index.refresh(sequences(frame)) if similarity_index.is_built() else 0
        if times is None:
            times = frame["ts"].to_numpy()
    marked = mark_kpi_days_stale(ts_ms=times if times is not None else [e.ts for e in events or ()])
    if recompute is None:
        recompute = _kpis_due()
    written = recompute_stale_kpis().values if recompute else 0
    return IngestFollowUp(len(ids), len(reached), updated, marked, written)


def _follow_up_since(times: np.ndarray | None) -> int | None:
    """Whole journeys when the similarity index needs them, else only what can complete a milestone."""
    if similarity_index.is_built() or times is None or not len(times):
        return None
    return milestone_horizon(int(times.min()))


def _reaches_from_new_events(events: Sequence[EventRecord]) -> list[MilestoneReach]:
    """Event-type and attribute triggers need only the new events, which are at hand. A sequence
    newly completed needs one of its types among the new events, so only customers with such an
    event are read, only events of the sequences' types (other events never change a subsequence
    match), and only from the milestone horizon on."""
    definitions = list(MilestoneDefinition.objects.filter(active=True))
    if not definitions or not events:
        return []
    if all(d.trigger != "attribute" for d in definitions):  # only events of the triggers' types matter
        wanted = {d.event_type for d in definitions} | {t for d in definitions for t in d.sequence or ()}
        events = [e for e in events if e.type in wanted]
    new = graph_journeys.records_frame(events)
    local = [d for d in definitions if d.trigger != "sequence"]
    reached = evaluate_milestones(frame=new, definitions=local) if local else []
    chained = [d for d in definitions if d.trigger == "sequence"]
    types = sorted({t for d in chained for t in d.sequence or ()})
    customers = sorted(set(new.loc[new["type"].isin(types), "customer_id"]))
    if customers:
        frame = graph_journeys.events_frame(customer_ids=customers, since_ms=milestone_horizon(int(new["ts"].min())),
                                            types=types)
        reached += evaluate_milestones(frame=frame, definitions=chained)
    return reached
