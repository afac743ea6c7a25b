"""Storing conversations in bulk: a chunk of files' contacts, turns, categories, texts and full-text
entries go to the database in a dozen statements instead of ten per file (the ingest of analysis
files spent most of its time in those per-file statements). Every transcript is redacted before
anything of it is stored. Storing is an upsert by contact id, so a re-run changes nothing.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.conversations import fulltext, redaction
from apps.conversations.conversation import Conversation
from apps.conversations.models import Contact, ContactCategory, ContactText, Turn

ANALYSIS_FIELDS = ("analysis_source", "analysis_file", "language", "channel", "sentiment_customer", "sentiment_agent",
                   "characteristics", "summary", "summary_items", "redaction", "attached", "duration_ms",
                   "started_at", "updated")


def redact_conversation(conversation: Conversation) -> redaction.RedactionReport:
    """Redact every text of the conversation in place (turns, what was marked in them, summary)."""
    region = settings.DEFAULT_PHONE_REGION
    report = redaction.RedactionReport()
    for turn in conversation.turns:
        turn.content, spans = redaction.redact(turn.content, region=region)
        report.add(spans)
        turn.marks = {k: [redaction.redact(t, region=region)[0] for t in v] for k, v in turn.marks.items()}
    conversation.summary = redaction.redact(conversation.summary, region=region)[0]
    conversation.summary_items = {k: [redaction.redact(t, region=region)[0] for t in v]
                                  for k, v in conversation.summary_items.items()}
    return report


def store_all(conversations: Sequence[Conversation]) -> list[bool]:
    """Redact, then upsert each conversation's contact, turns, categories and text (call inside a
    transaction). Returns, per conversation, whether it changed anything: False when the same file
    was stored already with the same content (a re-run). A contact named twice keeps the later file."""
    existing = {c.contact_id: c for c in Contact.objects.filter(contact_id__in={c.contact_id for c in conversations})}
    chosen: dict[str, tuple[Contact, Conversation]] = {}
    changed = []
    for conversation in conversations:
        report = redact_conversation(conversation)
        traits = json.loads(json.dumps(conversation.characteristics()))
        earlier = chosen.get(conversation.contact_id)
        contact = earlier[0] if earlier else existing.get(conversation.contact_id)
        same_file = contact is not None and contact.analysis_file == conversation.file[:500]
        if contact is not None and same_file and contact.characteristics == traits:
            changed.append(False)
            continue
        contact = contact or Contact(contact_id=conversation.contact_id)
        _apply(contact, conversation, traits, report)
        chosen[conversation.contact_id] = (contact, conversation)
        changed.append(True)
    _write(list(chosen.values()))
    return changed


def _write(items: list[tuple[Contact, Conversation]]) -> None:
    if not items:
        return
    old = [c for c, _ in items if c.pk is not None]
    Contact.objects.bulk_create([c for c, _ in items if c.pk is None], batch_size=500)  # sets their ids
    _update(old)
    replaced = [c.pk for c in old]
    for model in (Turn, ContactCategory, ContactText):
        model.objects.filter(contact_id__in=replaced).delete()
    Turn.objects.bulk_create([Turn(contact_id=c.pk, position=t.position, turn_id=t.turn_id[:100], role=t.role,
                                   begin_ms=t.begin_ms, end_ms=t.end_ms, content=t.content,
                                   sentiment=t.sentiment or "", score=t.score, marks=t.marks)
                              for c, conversation in items for t in conversation.turns], batch_size=1000)
    ContactCategory.objects.bulk_create([ContactCategory(contact_id=c.pk, name=name[:200], points=points)
                                         for c, conversation in items
                                         for name, points in conversation.categories.items()], batch_size=1000)
    texts = [(c.pk, "\n".join(t.content for t in conversation.turns)) for c, conversation in items]
    ContactText.objects.bulk_create([ContactText(contact_id=pk, body=body) for pk, body in texts], batch_size=500)
    fulltext.index(texts)


def _update(contacts: list[Contact]) -> None:
    """The analysis columns of contacts already stored, in one executemany (Django's bulk_update
    builds a CASE expression per row and field, which cost more than everything else here)."""
    if not contacts:
        return
    fields = [f for f in Contact._meta.concrete_fields if f.name in ANALYSIS_FIELDS]
    columns = ", ".join(f"{connection.ops.quote_name(str(f.column))} = %s" for f in fields)
    sql = f"UPDATE {connection.ops.quote_name(Contact._meta.db_table)} SET {columns} WHERE id = %s"
    rows = [[f.get_db_prep_save(getattr(c, f.attname), connection) for f in fields] + [c.pk] for c in contacts]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _apply(contact: Contact, conversation: Conversation, characteristics: dict[str, Any],
           report: redaction.RedactionReport) -> None:
    contact.analysis_source = conversation.source
    contact.analysis_file = conversation.file[:500]
    contact.language = conversation.language
    contact.channel = contact.channel or conversation.channel
    contact.sentiment_customer = conversation.overall.get("CUSTOMER")
    contact.sentiment_agent = conversation.overall.get("AGENT")
    contact.characteristics = characteristics
    contact.summary = conversation.summary
    contact.summary_items = conversation.summary_items
    contact.redaction = report.as_dict()
    contact.attached = False
    contact.updated = timezone.now()
    if contact.duration_ms is None:
        contact.duration_ms = conversation.duration_ms
    if contact.started_at is None and conversation.started_ms is not None:
        contact.started_at = datetime.fromtimestamp(conversation.started_ms / 1000, tz=UTC)
