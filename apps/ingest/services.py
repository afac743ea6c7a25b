"""Ingest: validate rows, quarantine the bad ones with their reasons, write the good ones in chunks.

Every run is an IngestBatch. Writes are idempotent by event id, so re-running a file changes
nothing and a run that was killed or lost its store half way can simply be run again.
"""
from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.core import observability
from apps.customers import identity
from apps.events.services import EventCopy, replace_events
from apps.events.store import EventStoreError
from apps.ingest.mapping import Mapping
from apps.ingest.models import IngestBatch, QuarantinedRow
from apps.ingest.parsing import ParsedChunk, arrival_base, chunks_from_second_process, validated_chunks
from apps.ingest.readers import Source, checked_rows, open_source
from apps.ingest.signals import events_ingested
from graph import event_rows, journeys
from graph.errors import GraphError
from graph.schema import EventRecord, WriteReport

log = logging.getLogger(__name__)
Progress = Callable[[IngestBatch], None]


@dataclass
class _Chunk:
    records: list[EventRecord]
    bad: list[QuarantinedRow]
    rows_read: int = 0
    bytes_read: int | None = None
    report: WriteReport | None = None

    @classmethod
    def of(cls, batch: IngestBatch, parsed: ParsedChunk) -> _Chunk:
        bad = [QuarantinedRow(batch=batch, row_number=number, reason=reason, raw=raw)
               for number, reason, raw in parsed.bad]
        return cls(records=parsed.records, bad=bad, rows_read=parsed.rows_read, bytes_read=parsed.bytes_read)


def ingest_file(*, uri: str, fmt: str, mapping: Mapping | None = None, progress: Progress | None = None,
                chunk_size: int | None = None, follow_up_duplicates: bool | None = None,
                name: str | None = None, key: str | None = None) -> IngestBatch:
    """Load a CSV/JSON/NDJSON file (local or s3://). Raises ValueError/FileNotFoundError for a file
    that cannot be read at all (empty, no customer column), before any batch is recorded. A large
    local file is read and validated in a second process (see apps.ingest.parsing). `name` names
    the batch and its events' source when the path means nothing to people (an upload's temporary
    file). `key` says which runs are runs of the same input (default: the batch's source): a run
    marks an earlier run of its key that never finished interrupted and resumes it (an upload's
    retry after a crash), and leaves other inputs' runs alone (another upload of a file with the
    same name). `follow_up_duplicates`: see `_run`."""
    source = open_source(uri)
    size = chunk_size or settings.INGEST_CHUNK_SIZE
    try:
        rows = checked_rows(source, fmt, mapping)
        batch = _start_batch(source=name or source.uri, fmt=fmt, mapping=mapping, size=source.size, key=key)
        follow = _follow_duplicates(batch, follow_up_duplicates)
        if _read_elsewhere(source):
            parsed = chunks_from_second_process(source.uri, fmt, mapping or Mapping(), source=batch.source,
                                                size=size, phone_region=settings.DEFAULT_PHONE_REGION,
                                                seq_base=arrival_base(batch.pk))
        else:
            parsed = validated_chunks(rows, mapping or Mapping(), source=batch.source, size=size,
                                      bytes_read=lambda: source.stream.count, seq_base=arrival_base(batch.pk))
        return _run(batch, parsed, progress, threaded=True, follow_duplicates=follow)
    finally:
        source.stream.close()


def _read_elsewhere(source: Source) -> bool:
    """Worth a second process: a local file of at least INGEST_PARSE_PROCESS_BYTES (the process
    takes a moment to start; objects on S3 stream through this one)."""
    threshold = settings.INGEST_PARSE_PROCESS_BYTES
    return threshold > 0 and not source.uri.startswith("s3://") and (source.size or 0) >= threshold


def ingest_records(*, records: Iterable[Any], source: str, mapping: Mapping | None = None,
                   progress: Progress | None = None, chunk_size: int | None = None,
                   follow_up_duplicates: bool | None = None) -> IngestBatch:
    """Load rows that are already in memory (the API, the demo), numbered from 1."""
    batch = _start_batch(source=source, fmt="records", mapping=mapping, size=None)
    follow = _follow_duplicates(batch, follow_up_duplicates)
    parsed = validated_chunks(enumerate(records, start=1), mapping or Mapping(), source=source,
                              size=chunk_size or settings.INGEST_CHUNK_SIZE, seq_base=arrival_base(batch.pk))
    return _run(batch, parsed, progress, threaded=False, follow_duplicates=follow)


def _follow_duplicates(batch: IngestBatch, asked: bool | None) -> bool:
    """Whether events already in the store get the follow-up too. A run that failed or was killed may
    have written events whose milestones, index entries and KPI marks never followed (the follow-up
    runs behind the writes); its rerun finds them as duplicates. So duplicates are followed up when
    asked, or (by default) when the previous run of the same source did not complete. The follow-up
    is idempotent: a customer reaches a milestone once however often it is evaluated."""
    if asked is not None:
        return asked
    previous = IngestBatch.objects.filter(input_key=batch.input_key, pk__lt=batch.pk).order_by("-pk").first()
    return previous is not None and previous.status != IngestBatch.Status.COMPLETED


def _start_batch(*, source: str, fmt: str, mapping: Mapping | None, size: int | None,
                 key: str | None = None) -> IngestBatch:
    """Runs of the same input (`key`, default the source) that never finished (process killed) are
    marked interrupted."""
    key = key or source
    IngestBatch.objects.filter(input_key=key, status=IngestBatch.Status.RUNNING).update(
        status=IngestBatch.Status.INTERRUPTED, finished=timezone.now(),
        error="did not finish; a later run of the same input resumed it")
    return IngestBatch.objects.create(source=source, input_key=key, format=fmt,
                                      mapping=mapping.as_dict() if mapping else {}, bytes_total=size)


class _FollowUp:
    """Customers whose journeys changed and the events that changed them, announced (the
    `events_ingested` signal) every few chunks rather than after each one: in a bulk load the same
    customers recur chunk after chunk, and the follow-up (milestones, similarity index, KPI marks)
    may read each announced customer's journey."""

    def __init__(self, batch: IngestBatch, every: int, *, duplicates: bool = False) -> None:
        self.batch = batch
        self.every = max(1, every)
        self.duplicates = duplicates
        self.customers: set[str] = set()
        self.events: list[EventRecord] = []
        self.chunks = 0

    def add(self, customers: Iterable[str], events: Iterable[EventRecord]) -> None:
        self.customers.update(customers)
        self.events.extend(events)
        self.chunks += 1
        if self.chunks >= self.every:
            self.flush()

    def flush(self) -> None:
        if self.customers:
            events_ingested.send(sender=IngestBatch, customer_ids=sorted(self.customers), batch=self.batch,
                                 event_ts=[e.ts for e in self.events], events=self.events)
        self.customers, self.events, self.chunks = set(), [], 0


def _run(batch: IngestBatch, parsed: Iterator[ParsedChunk], progress: Progress | None, *,
         threaded: bool, follow_duplicates: bool = False) -> IngestBatch:
    follow_up = _FollowUp(batch, settings.INGEST_FOLLOW_UP_CHUNKS, duplicates=follow_duplicates)
    copy = EventCopy(str(batch.pk))  # the event store's copy of what the graph accepts (apps.events)
    try:
        try:
            chunks: Iterator[_Chunk] = (_Chunk.of(batch, p) for p in parsed)
            if threaded:  # a file: read and validate | write the graph | record, follow up
                chunks = _prefetched(_prefetched(chunks, _as_read), _written)
            for chunk in chunks:
                batch.rows_read += chunk.rows_read
                _write_chunk(batch, chunk, follow_up, copy)
                if chunk.bytes_read is not None:
                    batch.bytes_read = chunk.bytes_read
                batch.save()
                if progress:
                    progress(batch)
            copy.flush()
        finally:
            follow_up.flush()  # what landed is followed up even when the run stops half way
    except EventStoreError as exc:
        _finish(batch, IngestBatch.Status.FAILED, f"{exc}. The graph holds the events; run the same ingest "
                "again to copy them to the event store.")
        raise
    except GraphError as exc:
        copy.flush_quietly()  # what landed before the failure
        _finish(batch, IngestBatch.Status.FAILED, f"graph store error: {exc}. Run the same ingest again to resume.")
        raise
    except Exception as exc:
        copy.flush_quietly()
        _finish(batch, IngestBatch.Status.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    _finish(batch, IngestBatch.Status.COMPLETED, "")
    return batch


def _prefetched(items: Iterator[_Chunk], work: Callable[[Iterator[_Chunk]], Iterator[_Chunk]],
                depth: int = 2) -> Iterator[_Chunk]:
    """Chunks read, validated and passed through `work` (the graph write) in a second thread, while
    this thread records them (counters, quarantine rows) and runs the follow-up of earlier ones. The
    graph engine releases the interpreter lock while it runs, so the two overlap. A file load only:
    the follow-up and every database write stay in the calling thread. An error in the second
    thread surfaces here, after the chunks that landed before it."""
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(message: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in work(items):
                if not put(("chunk", item)):
                    return
            put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the writing thread, which raises it
            put(("error", exc))

    reader = threading.Thread(target=read, name=f"ingest{work.__name__}", daemon=True)
    reader.start()
    try:
        while True:
            kind, value = handoff.get()
            if kind == "error":
                raise value
            if kind == "done":
                return
            yield value
    finally:
        stop.set()
        reader.join(timeout=5)


@contextmanager
def bulk_collection() -> Iterator[None]:
    """A bulk load allocates millions of short-lived objects; Python's cycle collector would keep
    re-scanning everything the process already holds. Objects alive at the start are set aside
    (`gc.freeze`) and young collections run less often for the length of the load. For a process
    that does nothing else (the `ingest` command): the collector's settings are per process, so a
    web process (which freezes its own start-up objects, see journeyhub.long_lived) must not."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], 50_000), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _as_read(chunks: Iterator[_Chunk]) -> Iterator[_Chunk]:
    return chunks


def _written(chunks: Iterator[_Chunk]) -> Iterator[_Chunk]:
    """The chunks' events into the graph, one chunk planned while the store writes the one before."""
    for chunk, report in journeys.write_event_batches(chunks, lambda c: c.records, identity.resolve):
        chunk.report = report
        yield chunk


def _write_graph(chunk: _Chunk) -> _Chunk:
    """The chunk's events into the graph (graph only: a file load runs this in its reader thread)."""
    if chunk.records and chunk.report is None:
        chunk.report = journeys.write_events(chunk.records, identity.resolve)
    return chunk


def _write_chunk(batch: IngestBatch, chunk: _Chunk, follow_up: _FollowUp, copy: EventCopy) -> None:
    if chunk.bad:
        QuarantinedRow.objects.bulk_create(chunk.bad)
        batch.quarantined += len(chunk.bad)
    report = _write_graph(chunk).report
    if report is None:
        return
    batch.loaded += report.loaded
    batch.duplicates += report.duplicates
    batch.customers_created += report.customers_created
    if report.events:
        observability.record_lag(max(event.ts for event in report.events))
    if batch.format in UPDATING_FORMATS and report.duplicates:
        _update_resent(batch, chunk.records, report, follow_up, copy)
    if follow_up.duplicates and report.duplicates:
        landed = _landed_before(chunk.records, report.events)
        follow_up.add([*report.customers, *(e.customer_id for e in landed)], [*report.events, *landed])
    else:
        follow_up.add(report.customers, report.events)
    copy.add(chunk.records, report)


UPDATING_FORMATS = ("ctr",)  # sources that send a record again after changing it (Connect re-delivers CTRs)


def _update_resent(batch: IngestBatch, records: list[EventRecord], report: WriteReport, follow_up: _FollowUp,
                   copy: EventCopy) -> None:
    """Records the graph already held that come back with changed content update their event in the
    graph and in the event store (no second event); the follow-up sees them as landed events, so the
    contact row is brought up to date too. Unchanged repeats stay duplicates. A run resuming one that
    stopped (`follow_up.duplicates`) also hands the store the graph's rows of the unchanged repeats
    it holds: the stopped run may have updated the graph and not the store (rows already equal are
    left alone; rows the store lacks are the copy's to repair)."""
    new = {e.event_id for e in report.events}
    resent = [r for r in records if r.event_id not in new]
    rows = event_rows.update_changed(resent)
    resumed = copy.held(event_rows.events_by_ids([r.event_id for r in resent])) if follow_up.duplicates else []
    if not rows and not resumed:
        return
    copy.flush()  # this run's own earlier copies are in their files before a day is rewritten
    replacing = list({row["event_id"]: row for row in [*resumed, *rows]}.values())
    replace_events(replacing, batch_id=str(batch.pk))
    copy.replaced(replacing)
    if not rows:
        return
    batch.updated += len(rows)
    batch.duplicates -= len(rows)
    changed = {row["event_id"]: row for row in rows}
    landed = [replace(r, customer_id=changed[r.event_id]["customer_id"]) for r in records if r.event_id in changed]
    follow_up.add([e.customer_id for e in landed], landed)


def _landed_before(records: list[EventRecord], new: Sequence[EventRecord]) -> list[EventRecord]:
    """The chunk's events that were already in the store, with the customer each belongs to, by the
    write's own identity rule (the id it names, else the customer linked to its strongest identifier)."""
    written = {e.event_id for e in new}
    landed = list({r.event_id: r for r in records if r.event_id not in written}.values())
    customers = identity.customers_of(landed)
    return [r if r.customer_id == c else replace(r, customer_id=c) for r, c in zip(landed, customers, strict=True)]


def _finish(batch: IngestBatch, status: str, error: str) -> None:
    batch.status = status
    batch.error = error
    batch.finished = timezone.now()
    batch.save()
    observability.record_ingest(loaded=batch.loaded, duplicates=batch.duplicates, quarantined=batch.quarantined)
    log.info("ingest batch %s %s: read %s, loaded %s, duplicates %s, quarantined %s", batch.pk, status,
             batch.rows_read, batch.loaded, batch.duplicates, batch.quarantined)


def rate(batch: IngestBatch) -> float:
    elapsed = max(time.time() - batch.started.timestamp(), 1e-6)
    return batch.rows_read / elapsed
