"""The event store's contacts table: each analysed contact's conversation summary, keyed by its event id.

Whole-population analyses filter journeys, paths and funnels by category and sentiment, and training
frames carry the conversation features, so the summary must be where the engine reads. It cannot go
into the event rows: an analysis often lands after its contact's event was written, and event files
are never rewritten. So each attach of summaries in the graph (apps.conversations) adds one small file
here, after the graph write; the engine joins it by event id and keeps each contact's latest row.
"""
from __future__ import annotations

import hashlib
import json
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


# ---------------------------------------------------------------- against the graph (events_store check | rebuild)

NAMED = 10  # ids named per kind of difference and day; the rest are counted


def differences(graph_rows: Sequence[dict[str, Any]]) -> tuple[list[str], int]:
    """How the table's latest rows differ from the graph's contact summaries (`graph_rows`: the
    summaries on the graph's events, with the event's `ts`): per day of the contact's event, counts
    and an order-free content hash, then the contacts behind each differing day; and rows for events
    the graph does not hold. Returns (differences, rows in the table)."""
    want = {row["event_id"]: row for row in graph_rows}
    have = {row["event_id"]: row for row in read_contacts().to_pylist()}
    day_of = {event_id: store.day_of(int(row["ts"])) for event_id, row in want.items()}
    out = []
    for day in sorted(set(day_of.values())):
        ids = [e for e, d in day_of.items() if d == day]
        g = [_content(want[e]) for e in ids]
        t = [_content(have[e]) for e in ids if e in have]
        if (len(g), _digest(g)) == (len(t), _digest(t)):
            continue
        out.append(f"contacts {day}: graph {len(g)} summaries, table {len(t)}"
                   + (" (same count, different content)" if len(g) == len(t) else ""))
        kinds = {"missing from the table": sorted(e for e in ids if e not in have),
                 "different in the table": sorted(e for e in ids if e in have
                                                  and _content(have[e]) != _content(want[e]))}
        out += [f"contacts {day}: {_named(kind, found)}" for kind, found in kinds.items() if found]
    extra = sorted(set(have) - set(want))
    if extra:
        out.append(f"contacts: {_named('in the table for events without a summary in the graph', extra)}")
    return out, len(have)


def rebuild(graph_rows: Sequence[dict[str, Any]]) -> int:
    """Write the table again from the graph's contact summaries: one new file (its rows newer than
    any before, so they count even while the old files remain), then the old files removed.
    Returns the number of contacts written."""
    if not store.enabled():
        return 0
    old = contact_files()
    if graph_rows:
        stamp = time.time_ns()
        rows = [{**{k: row[k] for k in CONTACT_SCHEMA.names if k != "updated"}, "updated": stamp} for row in graph_rows]
        _write(pa.Table.from_pylist(rows, schema=CONTACT_SCHEMA).sort_by("event_id"), "rebuild")
    store.delete(old)
    return len(graph_rows)


def _content(row: dict[str, Any]) -> tuple[Any, ...]:
    def number(value: Any) -> float | None:
        return None if value is None else float(value)
    return (row["event_id"], row["customer_id"], number(row["sentiment_customer"]), number(row["sentiment_agent"]),
            number(row["sentiment_change"]), tuple(sorted(row["categories"] or ())))


def _digest(contents: list[tuple[Any, ...]]) -> int:
    """Sum of 64-bit BLAKE2 hashes of the rows: order-free, and a repeated row changes it."""
    total = 0
    for content in contents:
        digest = hashlib.blake2b(json.dumps(content).encode(), digest_size=8).digest()
        total = (total + int.from_bytes(digest, "big")) & ((1 << 64) - 1)
    return total


def _named(kind: str, ids: list[str]) -> str:
    return f"{len(ids)} {kind}: {', '.join(ids[:NAMED])}" + (" …" if len(ids) > NAMED else "")
