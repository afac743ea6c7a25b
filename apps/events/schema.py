"""The event store's layout: the contract between the code that writes it and the analytics engine.

The event store is the columnar copy of every event the graph accepted, written after the graph batch
commits, so whole-population analyses never pull the graph into one process (docs/ARCHITECTURE.md).

Layout under `EVENTS_STORE_URL` (a folder, or `s3://bucket/prefix`), Hive-style partitions by event date:

    events/event_date=YYYY-MM-DD/<file>.parquet     one row per event id, at most once across all files
    identity/customers.parquet                      customer key -> canonical customer key (merges)
    contacts/<file>.parquet                         a contact's conversation summary, by its event id
    manifest.jsonl                                  local stores: the files above, a generation per change

Files whose name starts with "." are being written (ignore them); `_rebuild/` is a rebuild's staging
area, outside `events/`. Rows within a file are sorted by customer_id, ts, seq, event_id; equal
times order by `seq`. The identity table has a row only for merged keys (it may not exist at all):
a key without a row is its own canonical key, so join it with a LEFT JOIN and
coalesce(canonical_id, customer_id). Locations: apps.events.store.events_uri(), event_file_uris(),
identity_uri().
"""
from __future__ import annotations

EVENTS_DIR = "events"
IDENTITY_DIR = "identity"
CONTACTS_DIR = "contacts"

# column name -> logical type. Times are epoch milliseconds (UTC), as in the graph.
EVENT_COLUMNS: dict[str, str] = {
    "event_id": "string",      # source event id (the graph vertex id without its "event:" prefix)
    "customer_id": "string",   # customer key the event was written under
    "type": "string",          # event type (touchpoint)
    "channel": "string",
    "ts": "int64",             # epoch milliseconds
    "seq": "int64",            # arrival order (ingest batch << 32 | row number); breaks ties between equal ts
    "intent": "string",        # nullable
    "outcome": "string",       # nullable
    "source": "string",        # nullable
    "attributes": "string",    # JSON object text
    "batch_id": "string",      # ingest batch that wrote the row ("" for events written outside ingest)
}
PARTITION_COLUMN = "event_date"  # YYYY-MM-DD of ts in UTC

IDENTITY_COLUMNS: dict[str, str] = {
    "customer_id": "string",   # key as written on events
    "canonical_id": "string",  # key analyses group by (itself unless merged)
    "merged_at": "int64",      # epoch ms of the merge, null when not merged
    "rule": "string",          # why (nullable)
}

# The contacts table (`contacts/*.parquet`): the summary of each analysed contact, joined to its event by
# event_id at query time (an analysis often lands after its event was written, and event files are never
# rewritten). Files only add rows: a contact analysed again gets a new row, and the row with the greatest
# `updated` is the one that counts (`events_store compact` keeps only those).
CONTACT_COLUMNS: dict[str, str] = {
    "event_id": "string",               # the contact's event (its contact id)
    "customer_id": "string",            # customer key of the contact
    "sentiment_customer": "double",     # overall, -5 … 5 (nullable)
    "sentiment_agent": "double",        # nullable
    "sentiment_change": "double",       # customer's last quarter minus first quarter (nullable)
    "categories": "list<string>",       # matched categories
    "updated": "int64",                 # when the row was written (epoch ns): the latest row counts
}


def batch_of(seq: int) -> str:
    """The ingest batch an arrival number belongs to (`seq` is batch << 32 | row number; see
    apps.ingest.parsing.arrival_base): "" for events written outside an ingest batch."""
    return str(seq >> 32) if seq >> 32 else ""
