"""Writes to the event store: the copy an ingest run makes of the events its graph chunks accepted.

The graph decides what is new (idempotent by event id); the copy follows it, after each chunk has
committed. Rows wait in memory and go out as one file per event date every
`EVENTS_STORE_FLUSH_ROWS` events and at the end of the run, so a bulk load makes few, large files.

Nothing is lost when a run stops between the graph commit and the copy (killed, or the store was
unreachable): a re-run of the same input finds those events already in the graph (duplicates), looks
for them in the store, and copies from the graph whichever the store lacks. A re-run therefore
leaves the store equal to the graph, and each event id lands in at most one file.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings

from apps.events import store, tasks
from apps.events.schema import batch_of
from graph import event_rows
from graph import journeys as graph_journeys
from graph.journeys import Resolver, named_customers
from graph.schema import EventRecord, WriteReport, attributes_json

log = logging.getLogger(__name__)


class EventCopy:
    """One ingest run's copy into the event store. `add` after each chunk's graph write, `flush` at
    the end (and it flushes by itself as rows accumulate). Does nothing when the store is disabled."""

    def __init__(self, batch_id: str, *, flush_rows: int | None = None) -> None:
        self.enabled = store.enabled()
        self.batch_id = batch_id
        self.flush_rows = flush_rows or settings.EVENTS_STORE_FLUSH_ROWS
        self.records: list[EventRecord] = []     # accepted by the graph in this run
        self.repaired: list[dict[str, Any]] = []  # accepted earlier, missing from the store
        self.waiting: set[str] = set()           # ids of both, until written
        self.stored: dict[str, set[str]] = {}    # event date -> ids in the store (dates looked at so far)
        self.files: list[str] = []

    def add(self, records: Sequence[EventRecord], report: WriteReport) -> None:
        """A chunk whose graph write committed: `records` as read, `report` what the graph made of them."""
        if not self.enabled:
            return
        new = {e.event_id for e in report.events}
        self.records.extend(report.events)
        self.waiting.update(new)
        repeated = {r.event_id: r.ts for r in records if r.event_id not in self.waiting}
        if repeated:
            self._repair(repeated)
        if len(self.records) + len(self.repaired) >= self.flush_rows:
            self.flush()

    def _repair(self, repeated: dict[str, int]) -> None:
        """Events the graph already had: those the store lacks are copied from the graph (their date
        is looked up where the input says, then where the graph says, should the two differ)."""
        self._look_at({store.day_of(ts) for ts in repeated.values()})
        lacking = [e for e, ts in repeated.items() if e not in self.stored[store.day_of(ts)]]
        if not lacking:
            return
        rows = event_rows.events_by_ids(lacking)
        self._look_at({store.day_of(row["ts"]) for row in rows})
        missing = [row for row in rows if row["event_id"] not in self.stored[store.day_of(row["ts"])]
                   and row["event_id"] not in self.waiting]
        self.repaired += [{**row, "batch_id": batch_of(row["seq"])} for row in missing]
        self.waiting.update(row["event_id"] for row in missing)
        if missing:
            log.info("event store: %s events the graph held were missing from the store; copying them", len(missing))

    def held(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows (as the graph reads them) whose event id the store holds in the day of their time."""
        if not self.enabled:
            return []
        self._look_at({store.day_of(int(row["ts"])) for row in rows})
        return [row for row in rows if row["event_id"] in self.stored[store.day_of(int(row["ts"]))]]

    def replaced(self, rows: Sequence[dict[str, Any]]) -> None:
        """Rows `replace_events` put in the store: in their day now, so a later repair leaves them be."""
        for row in rows:
            self.stored.get(store.day_of(int(row["ts"])), set()).add(row["event_id"])

    def _look_at(self, days: set[str]) -> None:
        unseen = days - set(self.stored)
        if unseen:
            self.stored.update(store.event_ids_of(unseen))

    def flush(self) -> None:
        """Writes what waits, one file per event date. A date is forgotten once its file is written,
        so a flush that failed half way can be tried again without writing any event twice."""
        if not self.enabled or not (self.records or self.repaired):
            return
        table = self._table()
        self.records, self.repaired = [], []
        dates = pc.strftime(table.column("ts").cast(pa.timestamp("ms")), format="%Y-%m-%d")  # UTC, as day_of
        left = [(day, table.filter(pc.equal(dates, day))) for day in sorted(pc.unique(dates).to_pylist())]
        try:
            while left:
                day, rows = left[0]
                self.files.append(store.write_day(day, rows.sort_by(store.SORT_KEYS), tag=f"batch-{self.batch_id}"))
                ids = set(rows.column("event_id").to_pylist())
                if day in self.stored:
                    self.stored[day] |= ids
                self.waiting -= ids
                left.pop(0)
        finally:
            self.repaired = [row for _, rows in left for row in rows.to_pylist()]  # kept for another try

    def flush_quietly(self) -> None:
        """For a run that is failing anyway: copy what landed, but let the first error stand."""
        try:
            self.flush()
        except store.EventStoreError as exc:
            log.warning("%s (a re-run of the same input copies these events)", exc)

    def _table(self) -> pa.Table:
        """The waiting rows, built column by column (a bulk load copies a million events)."""
        events = self.records
        columns = {
            "event_id": [e.event_id for e in events], "customer_id": [e.customer_id for e in events],
            "type": [e.type for e in events], "channel": [e.channel for e in events], "ts": [e.ts for e in events],
            "seq": [e.seq for e in events], "intent": [e.intent or None for e in events],
            "outcome": [e.outcome or None for e in events], "source": [e.source or None for e in events],
            "attributes": [attributes_json(e.attributes) for e in events], "batch_id": [self.batch_id] * len(events)}
        table = pa.Table.from_pydict(columns, schema=store.EVENT_SCHEMA)
        if self.repaired:
            table = pa.concat_tables([table, pa.Table.from_pylist(self.repaired, schema=store.EVENT_SCHEMA)])
        return table


def holds_events() -> bool:
    """Whether the event store is kept and holds any event file."""
    return store.enabled() and bool(store.event_files())


def copy_written(records: Sequence[EventRecord], report: WriteReport, *, batch_id: str = "") -> None:
    """The copy for events written to the graph outside an ingest run (`journeys.write_events`
    called directly): call it right after the write."""
    copy = EventCopy(batch_id)
    copy.add(records, report)
    copy.flush()


def write_events(records: Sequence[EventRecord], *, resolve: Resolver = named_customers,
                 batch_id: str = "") -> WriteReport:
    """Events written outside an ingest run (decision feedback): the graph write, then, once it
    committed, their copy in the event store. The graph has the events either way, so a store that
    cannot be written now does not fail the caller: a job copies them from the graph once it can
    (`tasks.copy_later`), and nothing depends on the caller trying again."""
    report = graph_journeys.write_events(records, resolve)
    try:
        copy_written(records, report, batch_id=batch_id)
    except store.EventStoreError as exc:
        tasks.copy_later([r.event_id for r in records], exc)
    return report


def events_changed(event_ids: Sequence[str]) -> list[str]:
    """Events whose values the graph changed after they were copied (a corrected intent): their
    rows in the store take the graph's values (`replace_events`). Returns the files written; none
    when the store cannot take them now, and a job copies them later (`tasks.copy_later`)."""
    if not store.enabled() or not event_ids:
        return []
    try:
        return replace_events(event_rows.events_by_ids(list(event_ids)))
    except store.EventStoreError as exc:
        tasks.copy_later(list(event_ids), exc)
        return []


def replace_events(rows: Sequence[dict[str, Any]], *, batch_id: str | None = None) -> list[str]:
    """Events the graph updated in place (their rows as `graph.event_rows` reads them: a second
    answer for the same contact, a re-delivered contact record) take their new content in the store,
    in the day of their time, wherever the old row was (`store.replace_rows`). `batch_id`: the
    ingest batch that changed them (None keeps each row's own). Returns the files written. Rare by
    nature, so rewriting the files that hold the rows is affordable."""
    if not rows or not store.enabled():
        return []
    return store.replace_rows([{**row, "batch_id": batch_of(int(row["seq"]))} for row in rows], batch_id=batch_id)
