"""`events_store check | repair | rebuild | compact`: keep the event store equal to the graph, and tidy.

The graph is the system of record. `check` compares, per event date, the number of events and a
content hash of each side and names every difference; `repair` writes again from the graph only
what differs; `rebuild` writes the whole store again from the graph; `compact` merges a day's small
files into one. All three stream: the graph is read a page
of customers at a time, the store a day at a time, never all at once.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from apps.events import contacts, identity, store
from apps.events.schema import batch_of
from graph import event_rows

Progress = Callable[[str], None]
HASHED = ("event_id", "customer_id", "type", "channel", "ts", "seq", "intent", "outcome", "source", "attributes")
MASK = (1 << 64) - 1
NAMED = 10  # ids named per kind of difference and day; the rest are counted


def _quiet(_: str) -> None:
    return None


def row_hash(values: list[Any]) -> int:
    """A row's content (every column the graph holds, in HASHED order) as 64 bits."""
    text = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


@dataclass
class DaySummary:
    count: int = 0
    digest: int = 0  # sum of the rows' hashes: order-free, and a repeated row changes it

    def add(self, value: int) -> None:
        self.count += 1
        self.digest = (self.digest + value) & MASK


@dataclass
class CheckReport:
    days: int = 0
    graph_events: int = 0
    store_events: int = 0
    graph_contacts: int = 0  # conversation summaries on the graph's events
    store_contacts: int = 0  # contacts in the contacts table (latest row of each)
    differences: list[str] = field(default_factory=list)
    differing_days: list[str] = field(default_factory=list)  # days whose event rows differ
    identity_differs: bool = False
    contacts_differ: bool = False

    @property
    def equal(self) -> bool:
        return not self.differences


# ---------------------------------------------------------------- reading both sides


def graph_rows(progress: Progress = _quiet, contacts: list[dict[str, Any]] | None = None) -> Iterator[dict[str, Any]]:
    """Every accepted event in the graph, a page of customers at a time; given a list, the
    conversation summaries those events carry are added to it on the way (the same read)."""
    done = 0
    for page in event_rows.customer_id_pages():
        rows, summaries = event_rows.events_and_contacts_of_customers(page)
        if contacts is not None:
            contacts += summaries
        yield from rows
        done += len(page)
        progress(f"read {done:,} customers from the graph")


def _store_hashes(table: pa.Table) -> Iterator[tuple[str, int]]:
    columns = [table.column(name).to_pylist() for name in HASHED]
    for values in zip(*columns, strict=True):
        yield values[0], row_hash(list(values))


def store_summaries(progress: Progress = _quiet) -> tuple[dict[str, DaySummary], list[str]]:
    """Per-day summaries of the store, and the duplicated or misplaced rows it holds."""
    summaries: dict[str, DaySummary] = {}
    problems: list[str] = []
    for day, names in store.event_files().items():
        table = store.read_files(names, HASHED)
        summary = summaries.setdefault(day, DaySummary())
        for _, value in _store_hashes(table):
            summary.add(value)
        distinct = pc.count_distinct(table.column("event_id")).as_py()
        if distinct != table.num_rows:
            problems.append(f"{day}: the store holds {table.num_rows - distinct} repeated event ids")
        misplaced = sum(1 for ts in table.column("ts").to_pylist() if store.day_of(ts) != day)
        if misplaced:
            problems.append(f"{day}: {misplaced} rows of the store belong to another date")
        progress(f"read {day} from the event store ({table.num_rows:,} rows)")
    return summaries, problems


def _graph_summaries(progress: Progress, contacts: list[dict[str, Any]]) -> dict[str, DaySummary]:
    summaries: dict[str, DaySummary] = {}
    for row in graph_rows(progress, contacts):
        summaries.setdefault(store.day_of(row["ts"]), DaySummary()).add(row_hash([row[k] for k in HASHED]))
    return summaries


# ---------------------------------------------------------------- check


def check(progress: Progress = _quiet) -> CheckReport:
    """Compare the store with the graph: counts and content per day, then, for the days that differ,
    which events (missing from the store, only in the store, different, repeated); then the identity
    table and the contacts table (each contact's latest summary against the graph's, per day)."""
    have, problems = store_summaries(progress)
    graph_contacts: list[dict[str, Any]] = []
    want = _graph_summaries(progress, graph_contacts)
    report = CheckReport(days=len(set(have) | set(want)), graph_events=sum(s.count for s in want.values()),
                         store_events=sum(s.count for s in have.values()), graph_contacts=len(graph_contacts))
    differing = []
    for day in sorted(set(have) | set(want)):
        g, s = want.get(day, DaySummary()), have.get(day, DaySummary())
        if (g.count, g.digest) != (s.count, s.digest):
            differing.append(day)
            report.differences.append(f"{day}: graph {g.count} events, store {s.count}"
                                      + (" (same count, different content)" if g.count == s.count else ""))
    report.differences += problems
    report.differing_days = differing
    if differing:
        report.differences += _named(set(differing), progress)
    identity_differences = identity.identity_differences()
    contact_differences, report.store_contacts = contacts.differences(graph_contacts)
    report.differences += identity_differences + contact_differences
    report.identity_differs, report.contacts_differ = bool(identity_differences), bool(contact_differences)
    return report


# ---------------------------------------------------------------- repair


def repair(progress: Progress = _quiet) -> CheckReport:
    """`check`, then only what differs is written again from the graph: each differing day's files
    are replaced by one file of the graph's rows for that day (new file first, old ones removed
    after; rows keep the batch id they had in the store), and the identity or contacts table when
    it differs. Cheaper than `rebuild` when a fault touched a few days (a kill between a graph write
    and its copy, a lost file). Returns the check's report, which says what was repaired."""
    report = check(progress)
    days = set(report.differing_days)
    graph_contacts: list[dict[str, Any]] = []
    if days or report.contacts_differ:
        waiting: dict[str, list[dict[str, Any]]] = {day: [] for day in days}
        for row in graph_rows(progress, graph_contacts):
            day = store.day_of(row["ts"])
            if day in waiting:
                waiting[day].append(row)
        for day in sorted(days):
            with store.rewriting():
                _repair_day(day, waiting[day], store.event_files([day]).get(day, []))
            progress(f"repaired {day}: {len(waiting[day]):,} events from the graph")
    if report.identity_differs:
        identity.refresh_identity()
    if report.contacts_differ:
        progress(f"repaired the contacts table: {contacts.rebuild(graph_contacts):,} contacts")
    return report


def _repair_day(day: str, rows: list[dict[str, Any]], names: list[str]) -> None:
    old = store.read_files(names, ["event_id", "batch_id"]).to_pylist()
    batches = {row["event_id"]: row["batch_id"] for row in old}
    if rows:
        table = store.rows_table([{**row, "batch_id": batches.get(row["event_id"], batch_of(row["seq"]))}
                                  for row in rows])
        store.write_day(day, table, tag="repair")
    store.delete(names)


def _named(days: set[str], progress: Progress) -> list[str]:
    """The event ids behind the differing days."""
    graph_side: dict[str, dict[str, int]] = {day: {} for day in days}
    for row in graph_rows(progress):
        day = store.day_of(row["ts"])
        if day in days:
            graph_side[day][row["event_id"]] = row_hash([row[k] for k in HASHED])
    files = store.event_files(days)
    out = []
    for day in sorted(days):
        stored: dict[str, list[int]] = {}
        for event_id, value in _store_hashes(store.read_files(files.get(day, []), HASHED)):
            stored.setdefault(event_id, []).append(value)
        graph_day = graph_side[day]
        kinds = {
            "missing from the store": sorted(set(graph_day) - set(stored)),
            "only in the store": sorted(set(stored) - set(graph_day)),
            "different in the store": sorted(e for e in set(graph_day) & set(stored) if graph_day[e] not in stored[e]),
            "repeated in the store": sorted(e for e, values in stored.items() if len(values) > 1),
        }
        out += [f"{day}: {len(ids)} {kind}: {', '.join(ids[:NAMED])}" + (" …" if len(ids) > NAMED else "")
                for kind, ids in kinds.items() if ids]
    return out


# ---------------------------------------------------------------- rebuild


def rebuild(progress: Progress = _quiet, *, flush_rows: int = 100_000) -> int:
    """Write the whole store again from the graph; returns the number of events written. The new
    files are staged first (`_rebuild/`), then each day's staged rows replace that day's files, and
    days the graph no longer has are removed; the identity and contacts tables are written again
    from the graph too. Run it while no ingest is running."""
    token = store.new_token()
    staged: dict[str, list[str]] = {}
    waiting: dict[str, list[dict[str, Any]]] = {}
    total = 0

    def stage() -> None:
        for day, rows in waiting.items():
            staged.setdefault(day, []).append(store.write_staged(token, day, store.rows_table(rows)))
        waiting.clear()

    graph_contacts: list[dict[str, Any]] = []
    for row in graph_rows(progress, graph_contacts):
        waiting.setdefault(store.day_of(row["ts"]), []).append({**row, "batch_id": batch_of(row["seq"])})
        total += 1
        if total % flush_rows == 0:
            stage()
    stage()
    for day in sorted(set(staged) | set(store.event_files())):
        with store.rewriting():
            before = store.event_files([day]).get(day, [])
            if day in staged:
                store.write_day(day, store.read_files(staged[day]).sort_by(store.SORT_KEYS), tag="rebuild")
            store.delete(before + staged.get(day, []))
        progress(f"rebuilt {day}")
    identity.refresh_identity()
    progress(f"rebuilt the contacts table: {contacts.rebuild(graph_contacts):,} contacts")
    return total


# ---------------------------------------------------------------- compact


def compact(progress: Progress = _quiet) -> tuple[int, int]:
    """Merge each day's files into one, one row per event id (`_one_of_each`: repeats an interrupted
    writer left are dropped, and where they differ the graph's row is kept). The merged file is
    written before the old ones are removed, so a stop in between loses nothing, and the next
    compaction resolves the repeats it leaves the same way. Each day is merged under
    `store.rewriting()`, its files listed again once it holds it: an update of rows waits for one day
    at most, and what an update changed meanwhile is merged as it now stands. Returns (days merged,
    files removed)."""
    days = removed = 0
    stale = store.remove_stale_temporaries()
    if stale:
        progress(f"removed {stale} temporary files left by interrupted writes")
    for day, listed in store.event_files().items():
        if len(listed) < 2:
            continue
        with store.rewriting():
            names = store.event_files([day]).get(day, [])
            if len(names) < 2:
                continue
            table = store.read_files(names).cast(store.EVENT_SCHEMA)
            store.write_day(day, _one_of_each(day, table).sort_by(store.SORT_KEYS), tag="compact")
            store.delete(names)
        days += 1
        removed += len(names)
        progress(f"compacted {day}: {len(names)} files, {table.num_rows:,} rows")
    with store.rewriting():
        merged = contacts.compact()
    if merged:
        progress(f"compacted the contacts table: {merged} files, each contact's latest summary kept")
    return days, removed


def _one_of_each(day: str, table: pa.Table) -> pa.Table:
    """One row per event id. Identical repeats (a copy left by a writer stopped between its new file
    and the removal of the old) keep the first; repeats that differ (an update stopped the same way)
    take the graph's row, the system of record, so an old row never wins because its file was read
    first. A differing repeat the graph does not hold in this day keeps no row here."""
    first: dict[str, int] = {}
    versions: dict[str, set[tuple[Any, ...]]] = {}
    for index, values in enumerate(zip(*(table.column(name).to_pylist() for name in HASHED), strict=True)):
        first.setdefault(values[0], index)  # HASHED starts with the event id
        versions.setdefault(values[0], set()).add(values)
    differing = sorted(e for e, seen in versions.items() if len(seen) > 1)
    keep = [index for event_id, index in first.items() if event_id not in versions or len(versions[event_id]) == 1]
    kept = table.take(pa.array(sorted(keep), pa.int64()))
    if not differing:
        return kept
    graph_side = [{**row, "batch_id": table.column("batch_id")[first[row["event_id"]]].as_py()}
                  for row in event_rows.events_by_ids(differing) if store.day_of(row["ts"]) == day]
    return pa.concat_tables([kept, pa.Table.from_pylist(graph_side, schema=store.EVENT_SCHEMA)])
