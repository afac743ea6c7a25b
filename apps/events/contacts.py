"""The event store's contacts table: each analysed contact's conversation summary, keyed by its event id.

Whole-population analyses filter journeys, paths and funnels by category and sentiment, and training
frames carry the conversation features, so the summary must be where the engine reads. It cannot go
into the event rows: an analysis often lands after its contact's event was written, and event files
are never rewritten. So each attach of summaries in the graph (apps.conversations) adds one small file
here, after the graph write; the engine joins it by event id and keeps each contact's latest row.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from apps.events import schema, store

ARROW_TYPES = {"string": pa.string(), "int64": pa.int64(), "double": pa.float64(),
               "list<string>": pa.list_(pa.string())}
CONTACT_SCHEMA = pa.schema([(name, ARROW_TYPES[kind]) for name, kind in schema.CONTACT_COLUMNS.items()])


def write_summaries(rows: Sequence[dict[str, Any]], *, tag: str = "attach") -> str | None:
    """One new file holding these contacts' summaries (dicts with the table's columns but `updated`);
    returns its path, or None when there is nothing to write or the store is disabled."""
    if not rows or not store.enabled():
        return None
    stamp = time.time_ns()
    table = pa.Table.from_pylist([{**row, "updated": stamp} for row in rows], schema=CONTACT_SCHEMA)
    return _write(table, tag)


def _write(table: pa.Table, tag: str) -> str:
    name = f"{schema.CONTACTS_DIR}/{tag}-{store.new_token()}.parquet"
    store.write_listed(name, store.table_bytes(table))
    return name


def contact_files() -> list[str]:
    """The contacts table's files (paths relative to the root), oldest name first."""
    with store._errors("list"):  # noqa: SLF001
        names = store.folder().list(f"{schema.CONTACTS_DIR}/")
    return sorted(n for n in names if n.endswith(".parquet") and not n.rsplit("/", 1)[-1].startswith("."))


def latest(table: pa.Table) -> pa.Table:
    """Each event id's latest row (greatest `updated`), sorted by event id."""
    if table.num_rows == 0:
        return table
    ordered = table.sort_by([("event_id", "ascending"), ("updated", "descending")])
    ids = ordered.column("event_id").combine_chunks()
    changed = pc.not_equal(ids[1:], ids[:-1])
    return ordered.filter(pa.concat_arrays([pa.array([True]), changed]))


def read_contacts() -> pa.Table:
    """Every contact's latest summary (empty, with the schema, when none was written)."""
    root = store.folder()
    tables = []
    for name in contact_files():
        with store._errors("read", name):  # noqa: SLF001
            tables.append(pq.read_table(pa.BufferReader(root.read_bytes(name))).cast(CONTACT_SCHEMA))
    return latest(pa.concat_tables(tables)) if tables else CONTACT_SCHEMA.empty_table()


def compact() -> int:
    """Merge the contacts files into one holding only each contact's latest row (new file first, the
    old ones removed after, so a stop in between leaves rows the engine still reads correctly).
    Returns how many files were replaced."""
    files = contact_files()
    if len(files) <= 1:
        return 0
    _write(read_contacts(), "compact")
    store.delete(files)
    return len(files)
