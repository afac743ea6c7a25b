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

from django.conf import settings

from apps.events import store
from graph import event_rows
from graph.schema import EventRecord, WriteReport, attributes_json

log = logging.getLogger(__name__)


def batch_of(seq: int) -> str:
    """The ingest batch an arrival number belongs to (see apps.ingest.parsing.arrival_base)."""
    return str(seq >> 32) if seq >> 32 else ""


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
        for row in rows:
            if row["event_id"] not in self.stored[store.day_of(row["ts"])] and row["event_id"] not in self.waiting:
                self.repaired.append({**row, "batch_id": batch_of(row["seq"])})
                self.waiting.add(row["event_id"])
        if rows:
            log.info("event store: %s events the graph held were missing from the store; copying them", len(rows))

    def _look_at(self, days: set[str]) -> None:
        unseen = days - set(self.stored)
        if unseen:
            self.stored.update(store.event_ids_of(unseen))

    def flush(self) -> None:
        """Writes what waits, one file per event date. A date is forgotten once its file is written,
        so a flush that failed half way can be tried again without writing any event twice."""
        if not self.enabled or not (self.records or self.repaired):
            return
        by_day: dict[str, list[dict[str, Any]]] = {}
        for row in [*self._record_rows(), *self.repaired]:
            by_day.setdefault(_day(row["ts"]), []).append(row)
        self.records, self.repaired = [], []
        try:
            while by_day:
                day, rows = next(iter(by_day.items()))
                self.files.append(store.write_day(day, store.rows_table(rows), tag=f"batch-{self.batch_id}"))
                ids = {row["event_id"] for row in rows}
                if day in self.stored:
                    self.stored[day] |= ids
                self.waiting -= ids
                del by_day[day]
        finally:
            self.repaired = [row for rows in by_day.values() for row in rows]  # kept for another try

    def flush_quietly(self) -> None:
        """For a run that is failing anyway: copy what landed, but let the first error stand."""
        try:
            self.flush()
        except store.EventStoreError as exc:
            log.warning("%s (a re-run of the same input copies these events)", exc)

    def _record_rows(self) -> list[dict[str, Any]]:
        return [{"event_id": e.event_id, "customer_id": e.customer_id, "type": e.type, "channel": e.channel,
                 "ts": e.ts, "seq": e.seq, "intent": e.intent or None, "outcome": e.outcome or None,
                 "source": e.source or None, "attributes": attributes_json(e.attributes),
                 "batch_id": self.batch_id} for e in self.records]


_DAYS: dict[int, str] = {}


def _day(ts: int) -> str:
    """`store.day_of`, remembered per day number (a bulk load asks for the same few days a million times)."""
    number = ts // store.DAY_MS
    day = _DAYS.get(number)
    if day is None:
        day = _DAYS[number] = store.day_of(number * store.DAY_MS)
    return day
