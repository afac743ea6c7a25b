"""Writes of the conversations app: analyses and transcripts in, contacts recorded, summaries attached.

Every transcript is redacted before anything of it is stored (apps.conversations.redaction). A file
that cannot be read (malformed, truncated, unknown schema version, overlapping turns) is quarantined
in the ingest batch with its file, position and reason, and the rest of the run lands. Storing is
an upsert by contact id, so a re-run changes nothing.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.conversations import analytics, contact_lens, persist, transcripts
from apps.conversations.conversation import AnalysisError, Conversation
from apps.conversations.models import CategoryRule, Contact
from apps.core import observability, storage
from apps.events import contacts as event_contacts
from apps.ingest.models import IngestBatch, QuarantinedRow
from apps.ingest.services import ingest_records
from graph import contacts as graph_contacts
from graph.schema import EventRecord

log = logging.getLogger(__name__)
FORMATS = ("contact-lens", "transcript")
Progress = Callable[[IngestBatch], None]
ATTACH_EVERY = 250  # files stored in one transaction, between two graph round trips


# ---------------------------------------------------------------- files in, batch out


def ingest_conversations(*, uri: str, fmt: str, progress: Progress | None = None, name: str = "") -> IngestBatch:
    """Load Contact Lens analyses (`contact-lens`) or transcripts (`transcript`) from one file or a
    folder / S3 prefix; the batch is recorded under `name` (default: the location). Raises
    FileNotFoundError / ValueError before any batch when nothing can be read at all."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    files = _files(uri, fmt)
    batch = IngestBatch.objects.create(source=name or uri, format=fmt, bytes_total=None)
    return _run(batch, files, fmt, progress)


def ingest_documents(*, documents: Iterable[dict[str, Any]], source: str, fmt: str = "transcript",
                     progress: Progress | None = None) -> IngestBatch:
    """Transcripts (or analyses) already in memory, each as its file would hold it (the demo)."""
    batch = IngestBatch.objects.create(source=source, format=fmt, bytes_total=None)
    files = ((f"{source}#{n}", _reader(d)) for n, d in enumerate(documents, start=1))
    return _run(batch, files, fmt, progress)


def _reader(document: dict[str, Any]) -> Callable[[], bytes]:
    return lambda: json.dumps(document).encode()


def _run(batch: IngestBatch, files: Iterable[tuple[str, Callable[[], bytes]]], fmt: str,
         progress: Progress | None) -> IngestBatch:
    """Every file read and analysed (or quarantined), then ATTACH_EVERY files stored in bulk in one
    transaction; then their events are found and their summaries attached in one graph read and one
    write (a graph write per file would cost a durable commit per file)."""
    rules: list[analytics.Rule] = active_rules()
    numbered = enumerate(files, start=1)
    try:
        while chunk := list(islice(numbered, ATTACH_EVERY)):
            read, bad = _parsed(batch, chunk, fmt, rules)
            with transaction.atomic():  # one commit per chunk of files, not one per file
                QuarantinedRow.objects.bulk_create(bad)
                changed = persist.store_all(read)
                batch.loaded += sum(changed)
                batch.duplicates += len(changed) - sum(changed)
                batch.save()
            _connect(read)
            if progress:
                progress(batch)
    except Exception as exc:
        _finish(batch, IngestBatch.Status.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    _finish(batch, IngestBatch.Status.COMPLETED, "")
    if progress:
        progress(batch)
    return batch


def _parsed(batch: IngestBatch, chunk: list[tuple[int, tuple[str, Callable[[], bytes]]]], fmt: str,
            rules: list[analytics.Rule]) -> tuple[list[Conversation], list[QuarantinedRow]]:
    """The chunk's files as conversations, and a quarantine row (file, position, reason) for each
    file that cannot be one."""
    read: list[Conversation] = []
    bad: list[QuarantinedRow] = []
    for number, (name, reader) in chunk:
        batch.rows_read += 1
        try:
            read.append(parse(reader(), file=name, fmt=fmt, rules=rules))
        except AnalysisError as exc:
            bad.append(_quarantine(batch, number, name, str(exc)))
    return read, bad


def _connect(conversations: list[Conversation]) -> None:
    """Conversations to their contacts: adopt events already in the graph, make the events that
    generic transcripts name (one ingest batch), attach every summary whose event is there."""
    if not conversations:
        return
    ids = [c.contact_id for c in conversations]
    adopt_events(ids)
    recorded = set(Contact.objects.filter(contact_id__in=ids, has_record=True).values_list("contact_id", flat=True))
    rows = [_event_row(c) for c in conversations
            if c.contact_id not in recorded and c.identity and c.started_ms is not None]
    if rows:
        ingest_records(records=rows, source="transcripts")
    attach(list(Contact.objects.filter(contact_id__in=ids, has_record=True, attached=False)
                .exclude(analysis_source="").prefetch_related("matched_categories")))


def _finish(batch: IngestBatch, status: str, error: str) -> None:
    batch.status, batch.error, batch.finished = status, error, timezone.now()
    batch.save()
    observability.record_ingest(loaded=batch.loaded, duplicates=batch.duplicates, quarantined=batch.quarantined)


def _files(uri: str, fmt: str) -> list[tuple[str, Callable[[], bytes]]]:
    """(name, reader) for each input file: the file itself, or the files of a folder or prefix —
    for Contact Lens only those in its layout, and a redacted twin in place of its original."""
    if storage.is_s3(uri) and not uri.endswith("/") and not uri.endswith(".json"):
        uri += "/"
    if not storage.is_s3(uri) and Path(uri).is_file():
        return [(uri, Path(uri).read_bytes)]
    if storage.is_s3(uri) and uri.endswith(".json"):
        return [(uri, lambda: storage.read_bytes(uri))]
    if not storage.is_s3(uri) and not Path(uri).is_dir():
        raise FileNotFoundError(f"input not found: {uri}")
    folder = storage.folder(uri)
    names = [n for n in folder.list() if n.endswith(".json")]
    if fmt == "contact-lens":
        names = _analysis_files(names)
    return [(folder.uri(n), (lambda n=n: folder.read_bytes(n))) for n in names]  # type: ignore[misc]


def _analysis_files(names: list[str]) -> list[str]:
    chosen: dict[tuple[str, str], str] = {}
    for name in names:
        found = contact_lens.layout(name)
        if found is None:
            continue
        key = (found.group("contact"), found.group("stamp"))
        if key not in chosen or found.group("redacted"):
            chosen[key] = name
    return sorted(chosen.values())


def adopt_events(contact_ids: list[str]) -> int:
    """Contacts without a contact record whose id is an event in the graph (loaded from a CSV or by
    the demo) take that event's customer, channel and time; returns how many did."""
    waiting = {c.contact_id: c for c in Contact.objects.filter(contact_id__in=contact_ids, has_record=False)}
    facts = graph_contacts.event_facts(list(waiting)) if waiting else {}
    for contact_id, fact in facts.items():
        contact = waiting[contact_id]
        contact.customer_id, contact.channel = fact["customer_id"], fact["channel"]
        contact.started_at = datetime.fromtimestamp(fact["ts"] / 1000, tz=UTC)
        contact.has_record = True
        contact.save()
    return len(facts)


def parse(data: bytes, *, file: str, fmt: str, rules: list[analytics.Rule]) -> Conversation:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise AnalysisError(f"file is not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise AnalysisError(f"file is not valid JSON (truncated or malformed): {exc.msg} (line {exc.lineno}, "
                            f"column {exc.colno}, char {exc.pos})") from exc
    if fmt == "contact-lens":
        return contact_lens.read(document, file=file)
    return analytics.analyse(transcripts.read(document, file=file), rules)


def _quarantine(batch: IngestBatch, number: int, name: str, reason: str) -> QuarantinedRow:
    batch.quarantined += 1
    return QuarantinedRow(batch=batch, row_number=number, reason=f"{name}: {reason}"[:500],
                          raw={"file": name, "position": reason.split(":", 1)[0] if ":" in reason else ""})


def active_rules() -> list[analytics.Rule]:
    return [analytics.Rule(category=r.category, phrases=tuple(p.strip() for p in r.phrases.splitlines() if p.strip()),
                           speaker=r.speaker, where=r.where, seconds=r.seconds, negate=r.negate)
            for r in CategoryRule.objects.filter(active=True)]


# ---------------------------------------------------------------- storing a conversation


def _event_row(conversation: Conversation) -> dict[str, Any]:
    """A generic transcript that names its customer and start becomes the contact's event when no
    contact record has made one: through the ordinary ingest path, so identity rules apply."""
    prefix = "call" if conversation.channel == "voice" else conversation.channel
    return {"event_id": conversation.contact_id, "event_type": f"{prefix}_inbound", "channel": conversation.channel,
            "timestamp": conversation.started_ms, **conversation.identity, "initiation_method": "INBOUND",
            "conversation_source": "transcript"}


# ---------------------------------------------------------------- contact records and the graph


def record_contacts(events: Iterable[EventRecord]) -> None:
    """Contact rows for events that came from contact records (they carry an initiation method),
    then any analysis that was waiting for them is attached."""
    contacts = []
    for event in events:
        facts = event.attributes
        if "initiation_method" not in facts:
            continue
        contact, _ = Contact.objects.get_or_create(contact_id=event.event_id)
        contact.customer_id = event.customer_id
        contact.channel = event.channel
        contact.initiation_method = str(facts.get("initiation_method", ""))
        contact.queue = str(facts.get("queue", ""))[:200]
        contact.agent = str(facts.get("agent", ""))[:200]
        contact.started_at = datetime.fromtimestamp(event.ts / 1000, tz=UTC)
        contact.duration_ms = _duration_ms(event.ts, facts.get("disconnect_timestamp")) or contact.duration_ms
        contact.disconnect_reason = str(facts.get("disconnect_reason", ""))[:60]
        contact.previous_contact_id = str(facts.get("previous_contact_id", ""))
        contact.related_contact_id = str(facts.get("related_contact_id", ""))
        contact.has_record = True
        contact.save()
        contacts.append(contact)
    attach([c for c in contacts if c.analysed and not c.attached])


def _duration_ms(start_ms: int, disconnect: Any) -> int | None:
    if not disconnect:
        return None
    try:
        end = datetime.fromisoformat(str(disconnect).replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0, int(end.timestamp() * 1000) - start_ms)


def summary_properties(contact: Contact) -> dict[str, Any]:
    """What goes on the contact's event vertex."""
    traits = contact.characteristics or {}
    categories = sorted(c.name for c in contact.matched_categories.all())  # prefetched by a bulk attach
    return {"sentiment_customer": contact.sentiment_customer, "sentiment_agent": contact.sentiment_agent,
            "sentiment_change": sentiment_change(traits.get("quarters") or {}), "categories": categories,
            "interruptions": int((traits.get("interruptions") or {}).get("count", 0)),
            "non_talk_ms": int(traits.get("non_talk_ms") or 0), "conversation_ms": int(traits.get("duration_ms") or 0),
            "conversation": {"quarters": traits.get("quarters", {}), "source": contact.analysis_source}}


def sentiment_change(quarters: dict[str, Any]) -> float | None:
    """How the customer's sentiment moved within the contact: last quarter minus first (None without
    quarters): a call that ends angrier than it began reads negative."""
    scores = [q.get("score") for q in quarters.get("CUSTOMER") or [] if isinstance(q, dict)]
    if len(scores) < 2 or scores[0] is None or scores[-1] is None:
        return None
    return round(float(scores[-1]) - float(scores[0]), 4)


def attach(contacts: list[Contact]) -> int:
    """Put analysed contacts' summaries on their events, then the same summaries in the event store's
    contacts table (after the graph write, as event rows follow it); those whose event is not in the
    graph yet stay waiting. A contact is marked attached only once both are written, so a store that
    fails in between leaves it waiting for `attach_waiting` (both writes are idempotent). Returns how
    many were attached."""
    if not contacts:
        return 0
    summaries = {c.contact_id: summary_properties(c) for c in contacts}
    written = graph_contacts.set_contact_summaries(summaries)
    customers = {c.contact_id: c.customer_id for c in contacts}
    event_contacts.write_summaries([
        {"event_id": cid, "customer_id": customers[cid], "categories": summaries[cid]["categories"],
         **{k: summaries[cid][k] for k in ("sentiment_customer", "sentiment_agent", "sentiment_change")}}
        for cid in sorted(written)])
    Contact.objects.filter(contact_id__in=written).update(attached=True)
    return len(written)


def attach_waiting(chunk: int = 500) -> int:
    """Attach every analysed contact still waiting (after a graph restore, or on a schedule)."""
    waiting = Contact.objects.filter(attached=False, has_record=True).exclude(analysis_source="")
    done = 0
    for batch in _chunked(waiting.iterator(), chunk):
        done += attach(batch)
    return done


def _chunked(items: Iterator[Contact], size: int) -> Iterator[list[Contact]]:
    batch: list[Contact] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def file_name(uri: str) -> str:
    return PurePosixPath(uri).name
