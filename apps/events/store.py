"""The event store's files: where they live, how a day's rows become one Parquet file, and back.

Layout and columns are the contract in `apps.events.schema`. Files are written whole and appear at
once (a local file is written under a hidden temporary name and renamed; an S3 object appears when
its upload completes), so a reader or a kill never leaves half a file behind a `.parquet` name.
Everything here goes through `apps.core.storage`, so the store may be a folder or `s3://bucket/prefix`.
"""
from __future__ import annotations

import fcntl
import io
import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings

from apps.core import leases, storage
from apps.core.models import Lease
from apps.events import schema

ARROW_TYPES = {"string": pa.string(), "int64": pa.int64()}
EVENT_SCHEMA = pa.schema([(name, ARROW_TYPES[kind]) for name, kind in schema.EVENT_COLUMNS.items()])
IDENTITY_SCHEMA = pa.schema([(name, ARROW_TYPES[kind]) for name, kind in schema.IDENTITY_COLUMNS.items()])
IDENTITY_FILE = f"{schema.IDENTITY_DIR}/customers.parquet"
SORT_KEYS = [("customer_id", "ascending"), ("ts", "ascending"), ("seq", "ascending"), ("event_id", "ascending")]
DAY_MS = 86_400_000
STAGING_DIR = "_rebuild"
MANIFEST_FILE = "manifest.jsonl"
MANIFEST_LOCK = "manifest.lock"
REWRITE_LOCK = "rewrite.lock"


class EventStoreError(Exception):
    """The event store cannot be read or written (location missing, no permission, S3 down)."""


def store_url() -> str:
    """The root of the event store (`EVENTS_STORE_URL`): a local folder or `s3://bucket/prefix`."""
    return str(settings.EVENTS_STORE_URL)


def enabled() -> bool:
    return bool(settings.EVENTS_STORE_ENABLED)


def folder() -> storage.Folder:
    return storage.folder(store_url())


def events_uri() -> str:
    """Where the event files are (`<root>/events`): what an engine points a Hive-partitioned
    Parquet reader at (`<events_uri>/*/*.parquet`, partition column `event_date`)."""
    return folder().uri(schema.EVENTS_DIR)


def identity_uri() -> str:
    """The identity table's file (it may not exist yet: no customer has been merged)."""
    return folder().uri(IDENTITY_FILE)


def day_of(ts_ms: int) -> str:
    """The event date (UTC, YYYY-MM-DD) that partitions an event with this time."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def partition(day: str) -> str:
    return f"{schema.EVENTS_DIR}/{schema.PARTITION_COLUMN}={day}"


def event_files(days: Iterable[str] | None = None) -> dict[str, list[str]]:
    """The event files per day (paths relative to the root), for every day or only `days`."""
    wanted = set(days) if days is not None else None
    prefixes = [f"{partition(day)}/" for day in sorted(wanted)] if wanted is not None else [f"{schema.EVENTS_DIR}/"]
    found: dict[str, list[str]] = {}
    with _errors("list"):
        names = [name for prefix in prefixes for name in folder().list(prefix)]
    for name in names:
        parts = name.split("/")
        if len(parts) != 3 or not parts[2].endswith(".parquet") or parts[2].startswith("."):
            continue
        day = parts[1].removeprefix(f"{schema.PARTITION_COLUMN}=")
        if wanted is None or day in wanted:
            found.setdefault(day, []).append(name)
    return dict(sorted(found.items()))


def event_file_uris(days: Iterable[str] | None = None) -> list[str]:
    """Full locations (paths or s3:// URLs) of the event files, for every day or only `days`."""
    root = folder()
    return [root.uri(name) for names in event_files(days).values() for name in names]


def rows_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    """Event rows (dicts with the schema's columns) as a table sorted the way files are kept."""
    table = pa.Table.from_pylist(list(rows), schema=EVENT_SCHEMA)
    return table.sort_by(SORT_KEYS)


def write_day(day: str, table: pa.Table, *, tag: str) -> str:
    """One new file in the day's partition; returns its path. `tag` says what wrote it (a batch,
    a rebuild, a compaction) and a random part keeps concurrent writers' names apart."""
    name = f"{partition(day)}/{tag}-{new_token()}.parquet"
    write_listed(name, table_bytes(table))
    return name


_rewrites = threading.local()


@contextmanager
def rewriting() -> Iterator[None]:
    """Held by everything that reads files to replace and then delete them (an update of rows, a
    compaction, a repair, a rebuild's swap). Two such rewrites interleaved on the same day lose
    work: a compaction that deletes a file an update is about to read fails the update, and an
    update that read a file a compaction then merged leaves its old row beside the new one. On a
    local store it is a file lock beside the manifest, so the processes (web, worker, a command) and
    threads sharing the folder take turns. An S3 store's writers may run on several machines and
    share the database, not a folder: there it is a lease in the database (apps.core.leases), which
    its holder renews while it works and which expires `EVENTS_REWRITE_LEASE_SECONDS` after the last
    renewal of a holder that died. Re-entrant within a thread. Waiting is bounded
    (`EVENTS_REWRITE_WAIT_SECONDS`, 5 s: feedback waits in a request thread): past it,
    EventStoreError says so and nothing is changed."""
    root = folder()
    depth = getattr(_rewrites, "depth", 0)
    with ExitStack() as held:
        if depth == 0 and isinstance(root, storage.LocalFolder):
            held.enter_context(_rewrite_lock(root.root))  # released when the file closes
        elif depth == 0:
            where = store_url()
            held.enter_context(_rewrite_lease(where))
        _rewrites.depth = depth + 1
        try:
            yield
        finally:
            _rewrites.depth = depth


@contextmanager
def _rewrite_lease(where: str) -> Iterator[None]:
    try:
        with leases.held(f"event store rewrite {where}"[:200], ttl=float(settings.EVENTS_REWRITE_LEASE_SECONDS),
                         wait=float(settings.EVENTS_REWRITE_WAIT_SECONDS),
                         busy=lambda lease: _held_elsewhere(where, lease)):
            yield
    except leases.LeaseLost as exc:
        raise EventStoreError(f"event store: {where}: {exc}; `manage.py events_store check` says whether "
                              "the store still matches the graph, and `repair` mends it") from exc


@contextmanager
def _rewrite_lock(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / REWRITE_LOCK).open("a") as lock:
        _wait_for(lock, root / REWRITE_LOCK)
        yield


def _wait_for(lock: io.TextIOWrapper, path: Path) -> None:
    if not leases.wait_until(lambda: _try_lock(lock), float(settings.EVENTS_REWRITE_WAIT_SECONDS)):
        raise _held_elsewhere(str(path))


def _try_lock(lock: io.TextIOWrapper) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _held_elsewhere(where: str, lease: Lease | None = None) -> EventStoreError:
    by = (f", by {lease.process} until {lease.expires:%Y-%m-%d %H:%M:%S} UTC at the latest"
          if lease else "")
    return EventStoreError(
        f"event store: {where} is held by another rewrite (a compaction, a repair or an update of rows{by}) "
        f"for longer than EVENTS_REWRITE_WAIT_SECONDS={settings.EVENTS_REWRITE_WAIT_SECONDS}; nothing was "
        "changed, try again when it is done")


def replace_rows(rows: Sequence[dict[str, Any]], *, batch_id: str | None = None) -> list[str]:
    """Rows the graph holds with other values than the store (an intent corrected by a second
    answer, a re-delivered contact record), as `graph.event_rows` reads them: each takes the graph's
    values in the partition of its date, once, wherever its old row is (a row whose time moved to
    another day is removed from the old day). `batch_id` names the batch that changed them (None:
    each row keeps the batch id it had). Returns the files written.

    Only files holding one of the rows are rewritten (one new file per day for all of them, plus
    the rows the day keeps); a day whose rows already equal the graph's, once each, is left alone,
    and a row the store lacks is written to its day. Days that only lose rows go first and, within
    a day, the new file is written before the old ones are removed: whatever a stop leaves (the old
    row, a row missing from its new day, a repeat), running the same replacement again (a re-run,
    the caller's retry) makes it exact, and `compact` resolves differing repeats by the graph.
    The whole replacement holds `rewriting()`, so no compaction or repair works on its files meanwhile."""
    with rewriting():
        return _replace_rows(rows, batch_id)


def _replace_rows(rows: Sequence[dict[str, Any]], batch_id: str | None) -> list[str]:
    wanted = {str(row["event_id"]): row for row in rows}
    home = {event_id: day_of(int(row["ts"])) for event_id, row in wanted.items()}
    ids = pa.array(list(wanted), pa.string())
    held = {day: _day_tables(names) for day, names in event_files(set(home.values())).items()}
    elsewhere = set(wanted) - {e for tables in held.values() for t in tables.values()
                               for e in t.column("event_id").to_pylist()}
    if elsewhere:  # not in the day of their time: moved to another day, or never copied
        others = pa.array(sorted(elsewhere), pa.string())
        for day, names in event_files().items():
            if day not in held:
                tables = _day_tables(names)
                if any(_holds(t, others) for t in tables.values()):
                    held[day] = tables
    homes = set(home.values())
    written = []
    for day in sorted(held | dict.fromkeys(homes), key=lambda d: (d in homes, d)):  # days that only lose rows first
        homed = {e: r for e, r in wanted.items() if home[e] == day}
        written += _rewrite_day(day, held.get(day, {}), homed, ids, batch_id)
    return written


def _day_tables(names: Sequence[str]) -> dict[str, pa.Table]:
    return {name: read_files([name]) for name in names}


def _holds(table: pa.Table, ids: pa.Array) -> bool:
    return bool(pc.any(pc.is_in(table.column("event_id"), value_set=ids)).as_py())


def _rewrite_day(day: str, tables: dict[str, pa.Table], homed: dict[str, dict[str, Any]], ids: pa.Array,
                 batch_id: str | None) -> list[str]:
    """One day's part of `replace_rows`: `tables` the day's files, `homed` the graph's rows whose date
    is this day. The files holding any of the rows are replaced by one file with the graph's rows and
    the rest of their rows, less those another file of the day also holds the same (copies an
    interrupted rewrite left; differing repeats stay for `compact`, which asks the graph). Nothing is
    written when the day already holds exactly the graph's rows, once."""
    holding = {name: t for name, t in tables.items() if _holds(t, ids)}
    others = [t for name, t in tables.items() if name not in holding]
    old = pa.concat_tables(holding.values()).cast(EVENT_SCHEMA) if holding else EVENT_SCHEMA.empty_table()
    elsewhere = _copies(old, others)
    hit = pc.is_in(old.column("event_id"), value_set=ids)
    present = old.filter(hit).to_pylist()
    batches = {row["event_id"]: row["batch_id"] for row in present}
    new = [{**row, "batch_id": batch_id if batch_id is not None else batches.get(e, row.get("batch_id") or "")}
           for e, row in homed.items()]  # a row the store lacked keeps the batch id the caller gave it
    rest = old.filter(pc.invert(hit))
    kept = _once(rest, elsewhere)
    if _same_rows(present, new) and kept.num_rows == rest.num_rows:
        return []
    table = pa.concat_tables([kept, pa.Table.from_pylist(new, schema=EVENT_SCHEMA)])
    names = [write_day(day, table.sort_by(SORT_KEYS), tag="update")] if table.num_rows else []
    if holding:
        delete(list(holding))
    return names


def _copies(table: pa.Table, others: list[pa.Table]) -> set[tuple[Any, ...]]:
    """The rows of `table` (as content) that one of the `others` also holds."""
    if not others or table.num_rows == 0:
        return set()
    other = pa.concat_tables(others).cast(EVENT_SCHEMA)
    common = pa.array(list(set(table.column("event_id").to_pylist()) & set(other.column("event_id").to_pylist())),
                      pa.string())
    if len(common) == 0:
        return set()
    return {_content(row) for row in other.filter(pc.is_in(other.column("event_id"), value_set=common)).to_pylist()}


def _once(table: pa.Table, elsewhere: set[tuple[Any, ...]]) -> pa.Table:
    """The rows no other file holds the same, the first of each."""
    ids = table.column("event_id").to_pylist()
    repeated = {e for e, n in Counter(ids).items() if n > 1} | {content[0] for content in elsewhere}
    candidates = [index for index, event_id in enumerate(ids) if event_id in repeated]
    if not candidates:
        return table
    seen = set(elsewhere)
    dropped = set()
    for index, row in zip(candidates, table.take(pa.array(candidates, pa.int64())).to_pylist(), strict=True):
        content = _content(row)
        if content in seen:
            dropped.add(index)
        seen.add(content)
    keep = [index for index in range(table.num_rows) if index not in dropped]
    return table if not dropped else table.take(pa.array(keep, pa.int64()))


def _content(row: dict[str, Any]) -> tuple[Any, ...]:
    """A row's values but its batch id (the same event written by two batches is the same row)."""
    return tuple(row.get(name) for name in EVENT_SCHEMA.names if name != "batch_id")


def _same_rows(present: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> bool:
    """The stored rows of the ids are the wanted ones, once each (batch ids aside)."""
    return Counter(map(_content, present)) == Counter(map(_content, wanted))


def new_token() -> str:
    return uuid.uuid4().hex[:12]


def write_staged(token: str, day: str, table: pa.Table) -> str:
    """A file outside `events/` (readers never see it) that a rebuild moves in later."""
    name = f"{STAGING_DIR}/{token}/{day}-{new_token()}.parquet"
    with _errors("write", name):
        folder().write_bytes(name, table_bytes(table))
    return name


def table_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def read_files(names: Sequence[str], columns: Sequence[str] | None = None) -> pa.Table:
    """The rows of some event files as one table (empty, with the schema, when there are none)."""
    root = folder()
    tables = []
    for name in names:
        with _errors("read", name):
            data = root.read_bytes(name)
        tables.append(pq.read_table(pa.BufferReader(data), columns=list(columns) if columns else None,
                                    schema=None))
    if not tables:
        return EVENT_SCHEMA.empty_table().select(list(columns) if columns else EVENT_SCHEMA.names)
    return pa.concat_tables(tables)


def event_ids_of(days: Iterable[str]) -> dict[str, set[str]]:
    """The event ids each day's files hold (days without files map to an empty set)."""
    days = list(days)
    files = event_files(days)
    return {day: set(read_files(files.get(day, []), ["event_id"]).column("event_id").to_pylist()) for day in days}


def delete(names: Iterable[str]) -> None:
    """Removes files: out of the manifest first (no reader picks up a file about to go), then the file."""
    root = folder()
    names = list(names)
    with _errors("write", MANIFEST_FILE):
        record(removed=names)
    for name in names:
        with _errors("delete", name):
            root.delete(name)


def remove_stale_temporaries(*, older_than_s: float = 3600.0) -> int:
    """Removes hidden temporary files a killed writer left in a local store's partitions (S3 has
    none: an upload that did not finish never appears). Returns how many were removed."""
    root = folder()
    if not isinstance(root, storage.LocalFolder):
        return 0
    limit = time.time() - older_than_s
    stale = [p for p in (root.root / schema.EVENTS_DIR).glob("*/.*") if p.is_file() and p.stat().st_mtime < limit]
    for path in stale:
        with _errors("delete", str(path)):
            path.unlink(missing_ok=True)
    return len(stale)


def write_identity(table: pa.Table) -> str:
    with _errors("write", IDENTITY_FILE):
        return folder().write_bytes(IDENTITY_FILE, table_bytes(table.cast(IDENTITY_SCHEMA)))


def read_identity() -> pa.Table:
    """The identity table, empty when no merge has been recorded."""
    root = folder()
    with _errors("read", IDENTITY_FILE):
        if not root.exists(IDENTITY_FILE):
            return IDENTITY_SCHEMA.empty_table()
        return pq.read_table(pa.BufferReader(root.read_bytes(IDENTITY_FILE)))


@contextmanager
def _errors(action: str, name: str = "") -> Iterator[None]:
    """Any failure to reach the store becomes an EventStoreError naming the store and the file."""
    try:
        yield
    except (OSError, storage.StorageError, pa.ArrowException) as exc:
        where = f"{store_url()}/{name}" if name else store_url()
        raise EventStoreError(f"event store: cannot {action} {where}: {exc}") from exc


# ---------------------------------------------------------------- the manifest (local stores)
#
# Readers need to know cheaply and exactly when the store changed: listing every date folder on each
# question costs a stat per file. So every write through this module also updates `manifest.jsonl`
# at the root of a local store: a first line {"store": token, "generation": n, "events": count,
# "pending": {path: epoch s}} whose generation changes with every listed change, then one line per
# event or contacts file (its path). A file is announced as pending before it is written and listed
# after; it leaves the list before it is deleted. Changes are made under a file lock (writers in
# several processes) and the manifest is replaced whole (temporary name, rename), so a reader sees
# an older or a newer list, never a partial one. A reader counts a pending file once it exists (files
# appear whole), so a writer killed between the file and the manifest loses nothing; the next change
# lists pending files that exist and drops those older than an hour that never appeared. The
# identity table is not listed: readers stat it. A store written by older code has no manifest:
# readers scan the folders, and the first write creates it from a scan. S3 stores have none (their
# readers do not cache by content).

PENDING_EXPIRY_S = 3600.0


@dataclass(frozen=True)
class Manifest:
    store: str                 # random token of this manifest's lineage (a store wiped and rewritten differs)
    generation: int            # +1 on every change
    files: tuple[str, ...]     # event and contacts files, relative to the root, sorted
    pending: tuple[tuple[str, float], ...] = ()  # announced, maybe not written (yet): (path, when)

    def existing(self, root: Path) -> tuple[str, ...]:
        """The listed files and the pending ones that exist: what the store holds."""
        return tuple(sorted({*self.files, *(name for name, _ in self.pending if (root / name).exists())}))


def write_listed(name: str, data: bytes) -> None:
    """Writes an event or contacts file and lists it in the manifest: announced as pending first,
    so a writer killed right after the file appears leaves it pending (readers include a pending
    file once it exists), never written but unlisted."""
    with _errors("write", name):
        record(pending=[name])
        folder().write_bytes(name, data)
        record(added=[name])


def record(*, added: Sequence[str] = (), removed: Sequence[str] = (), pending: Sequence[str] = ()) -> None:
    """The manifest of this installation's store after a change (see above); nothing for S3."""
    root = folder()
    if isinstance(root, storage.LocalFolder):
        update_manifest(root.root, added=added, removed=removed, pending=pending)


def update_manifest(root: Path, *, added: Sequence[str] = (), removed: Sequence[str] = (),
                    pending: Sequence[str] = ()) -> Manifest | None:
    """Lists, unlists or announces files (only event and contacts files are tracked)."""
    if not any(_tracked(name) for name in [*added, *removed, *pending]):
        return None
    root.mkdir(parents=True, exist_ok=True)
    with (root / MANIFEST_LOCK).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = read_manifest(root)
        if current is None:  # first change by this code: whatever is there now
            current = Manifest(new_token(), 0, tuple(scan_files(root)))
        now = time.time()
        gone = set(removed)
        waiting = {name: when for name, when in current.pending if name not in gone}
        files = set(current.files) | {n for n in added if _tracked(n)}
        for name, when in list(waiting.items()):
            if name in files or (root / name).exists():
                files.add(name)
                del waiting[name]
            elif now - when > PENDING_EXPIRY_S:
                del waiting[name]  # a writer killed before its file appeared
        waiting.update({name: now for name in pending if _tracked(name) and name not in files})
        files -= gone
        manifest = Manifest(current.store, current.generation + 1, tuple(sorted(files)),
                            tuple(sorted(waiting.items())))
        events = sum(1 for f in manifest.files if f.startswith(f"{schema.EVENTS_DIR}/"))
        lines = [json.dumps({"store": manifest.store, "generation": manifest.generation, "events": events,
                             "pending": dict(manifest.pending)})]
        lines += [json.dumps(name) for name in manifest.files]
        partial = root / f".{MANIFEST_FILE}-{os.getpid()}-{new_token()}"
        partial.write_text("\n".join(lines) + "\n")
        os.replace(partial, root / MANIFEST_FILE)
        return manifest


def manifest_header(root: Path) -> dict[str, Any] | None:
    """The manifest's first line (store token, generation, number of listed event files, pending
    files) or None when the store has no manifest: one small read, what a reader checks before
    every cached answer."""
    try:
        with (root / MANIFEST_FILE).open("rb") as handle:
            line = handle.readline()
    except FileNotFoundError:
        return None
    return json.loads(line)  # type: ignore[no-any-return]


def read_manifest(root: Path) -> Manifest | None:
    try:
        lines = (root / MANIFEST_FILE).read_text().splitlines()
    except FileNotFoundError:
        return None
    head = json.loads(lines[0])
    return Manifest(str(head["store"]), int(head["generation"]), tuple(json.loads(line) for line in lines[1:]),
                    tuple(sorted((str(k), float(v)) for k, v in head.get("pending", {}).items())))


def scan_files(root: Path) -> list[str]:
    """The event and contacts files a local store holds (relative paths, sorted), by listing its folders."""
    found = [f"{schema.EVENTS_DIR}/{part.name}/{item.name}"
             for part in (root / schema.EVENTS_DIR).glob(f"{schema.PARTITION_COLUMN}=*")
             for item in os.scandir(part) if _tracked(f"{schema.EVENTS_DIR}/{part.name}/{item.name}")]
    found += [f"{schema.CONTACTS_DIR}/{p.name}" for p in (root / schema.CONTACTS_DIR).glob("[!.]*.parquet")]
    return sorted(found)


def is_event_file(name: str) -> bool:
    return name.startswith(f"{schema.EVENTS_DIR}/")


def _tracked(name: str) -> bool:
    parts = name.split("/")
    if not parts[-1].endswith(".parquet") or parts[-1].startswith("."):
        return False
    return (len(parts) == 3 and parts[0] == schema.EVENTS_DIR) or (len(parts) == 2 and parts[0] == schema.CONTACTS_DIR)
