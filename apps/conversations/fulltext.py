"""Full-text search over contacts' redacted transcripts, on the database the hub runs on.

SQLite: an FTS5 table (`conversations_contact_fts`, rowid = contact id) kept beside the contacts.
PostgreSQL: a GIN index on `to_tsvector('english', body)` of the contacts' texts (the migration).
Anything else: a plain `icontains` (correct, not fast). The query text is reduced to words, all of
which must occur (an AND of terms), so no query syntax of either engine reaches the database.
"""
from __future__ import annotations

import re

from django.db import connection
from django.db.models import QuerySet

FTS_TABLE = "conversations_contact_fts"
_WORD = re.compile(r"[\w']+", re.UNICODE)


def terms(query: str) -> list[str]:
    return [w.lower().strip("'") for w in _WORD.findall(query) if w.strip("'")][:12]


def index(contact_ids_and_text: list[tuple[int, str]]) -> None:
    """(Re)index contacts' text; SQLite only (PostgreSQL indexes the column itself)."""
    if connection.vendor != "sqlite" or not contact_ids_and_text:
        return
    with connection.cursor() as cursor:
        cursor.executemany(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [(pk,) for pk, _ in contact_ids_and_text])
        cursor.executemany(f"INSERT INTO {FTS_TABLE}(rowid, body) VALUES (%s, %s)", contact_ids_and_text)


def matching(queryset: QuerySet, query: str) -> QuerySet:
    """The contacts of `queryset` whose transcript contains every word of `query`."""
    words = terms(query)
    if not words:
        return queryset
    if connection.vendor == "sqlite":
        expression = " ".join('"' + w.replace('"', "") + '"' for w in words)
        return queryset.extra(where=[f"conversations_contact.id IN (SELECT rowid FROM {FTS_TABLE} "
                                     f"WHERE {FTS_TABLE} MATCH %s)"], params=[expression])
    if connection.vendor == "postgresql":
        return queryset.extra(where=["conversations_contact.id IN (SELECT contact_id FROM conversations_contacttext "
                                     "WHERE to_tsvector('english', body) @@ plainto_tsquery('english', %s))"],
                              params=[" ".join(words)])
    for word in words:
        queryset = queryset.filter(text__body__icontains=word)
    return queryset


CREATE_SQLITE = f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(body, tokenize='porter unicode61')"
DROP_SQLITE = f"DROP TABLE IF EXISTS {FTS_TABLE}"
CREATE_POSTGRES = ("CREATE INDEX IF NOT EXISTS conversations_contact_fts_idx ON conversations_contacttext "
                   "USING GIN (to_tsvector('english', body))")
DROP_POSTGRES = "DROP INDEX IF EXISTS conversations_contact_fts_idx"
