"""The analytics engine: where every whole-population analysis runs, over the event store's Parquet files.

Analyses are written once as Ibis expressions and compiled for the engine the installation chose:
DuckDB in this process by default (reads the Parquet directly, pushes date/channel/type filters into
the scan, spills to `ANALYTICS_TEMP_DIR` past `ANALYTICS_MEMORY_LIMIT`), or Apache Spark
(`ANALYTICS_ENGINE=spark`, `SPARK_MASTER`) over the same files when one machine is no longer enough.
Journeys are ordered by (customer, ts, seq) everywhere, so events with equal times keep arrival order.

Until the store holds any event file (an installation that predates it, before `events_store
rebuild`) the engine reads the graph's events instead, with a warning: slower, same answers.
"""
from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings

from apps.events import filesystems, schema, store
from journeyhub.long_lived import at_process_end

log = logging.getLogger(__name__)
ENGINES = ("duckdb", "spark")
EVENTS_VIEW = "journeyhub_events"
IDENTITY_VIEW = "journeyhub_identity"
JOURNEYS_VIEW = "journeyhub_journeys"
TRACES_VIEW = "journeyhub_traces"
JOURNEY_FILE_PREFIX = "journeys-"
JOURNEY_DELTA_SUFFIX = "-delta"
# Bump when the journey table's build changes its tables or columns: files of another layout are
# then neither opened nor brought up to date (a delta must match its base column for column).
JOURNEY_LAYOUT = "3"  # 3: coded traces with their trace_types table
TOUCHED_TABLE = "journeyhub_touched"
LABEL_SEPARATOR = "@"  # apps.journeys.analyzers.base.SEPARATOR: type@channel labels
TRACE_BASE = 64  # a trace spells each event type in TRACE_BASE digits, one ASCII byte each from TRACE_ZERO
TRACE_ZERO = 48
TRACE_BUCKET_EVENTS = 4_000_000  # the traces step aggregates at most about this many events at a time
CONTACTS_VIEW = "journeyhub_contacts"
IBIS_SCHEMA = ibis.schema({name: ("int64" if kind == "int64" else "string")
                           for name, kind in schema.EVENT_COLUMNS.items()})
T = TypeVar("T")


class UnknownValueError(ValueError):
    """A question names an event type, channel or label no event in the store carries. `parameter`:
    the question's parameter that named it, when the asker says (`about`), so an API can point at it."""

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


@contextmanager
def about(parameter: str) -> Iterator[None]:
    """Names `parameter` on an UnknownValueError raised inside that does not name one yet."""
    try:
        yield
    except UnknownValueError as exc:
        exc.parameter = exc.parameter or parameter
        raise


@dataclass(frozen=True)
class Snapshot:
    """One state of a local store, read once and then used for every view of it, so that what a
    journey table records as covered is exactly what its build read.

    `files`: (event file relative to the root, stamp), sorted; the stamp is "" for files the
    manifest lists (written once under a unique name, never rewritten) and "size:mtime" for files
    found by scanning a store without a manifest (older writers may have rewritten one in place).
    `identity`: the identity table's (key, canonical key) pairs, sorted."""

    fingerprint: Hashable
    files: tuple[tuple[str, str], ...]
    identity: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Delta:
    """What a delta journey file holds: the journeys of `customers` (canonical keys) on top of `base`."""

    customers: frozenset[str]
    base: Path


@dataclass(frozen=True)
class EventFilter:
    """Which events an analysis reads: [since_ms, until_ms), channels, types, canonical customer ids;
    and, through the contacts table, only customers with a contact among those events that matched
    any of `categories` with the customer's overall sentiment in [sentiment_min, sentiment_max]
    (those contacts' events carry `contact_match`, so a path can be anchored on them)."""

    since_ms: int | None = None
    until_ms: int | None = None
    channels: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    customer_ids: tuple[str, ...] | None = None
    categories: tuple[str, ...] = ()
    sentiment_min: float | None = None
    sentiment_max: float | None = None

    @property
    def by_contact(self) -> bool:
        return bool(self.categories) or self.sentiment_min is not None or self.sentiment_max is not None

    def key(self) -> Hashable:
        return (self.since_ms, self.until_ms, self.channels, self.types, self.customer_ids, self.categories,
                self.sentiment_min, self.sentiment_max)

    @property
    def whole_journeys(self) -> bool:
        """True when every selected customer keeps every event (no date, channel or type cut), so a
        journey's positions and neighbours are those of the whole store. A contact filter marks its
        matching events (`contact_match`), which the journey table does not carry."""
        return (self.since_ms is None and self.until_ms is None and not self.channels and not self.types
                and not self.by_contact)


class Engine:
    """One engine over one store: the backend connection, the events table and a small result cache.

    Queries run one at a time per process (DuckDB connections are not shared between threads)."""

    def __init__(self, *, store_url: str, kind: str, snapshot: Snapshot | None = None) -> None:
        """`snapshot` pins the engine to one state of the store (a journey table's build reads that
        state, whatever lands in the store meanwhile)."""
        if kind not in ENGINES:
            raise ValueError(f"ANALYTICS_ENGINE must be one of {', '.join(ENGINES)}, got {kind!r}")
        self.store_url = store_url.rstrip("/")
        self.kind = kind
        self._lock = threading.RLock()
        self._backend: Any = None
        self._tables: dict[str, Any] = {}
        self._results: OrderedDict[Hashable, Any] = OrderedDict()
        self._pinned = snapshot
        self._aliases: dict[Path, str] = {}  # attached journey files
        self._attached = 0
        self._builder: threading.Thread | None = None
        self._sidecars: dict[Path, tuple[int, dict[str, Any] | None]] = {}

    # ------------------------------------------------------------ backend and files

    @property
    def backend(self) -> Any:
        with self._lock:
            if self._backend is None:
                self._backend = _connect_duckdb() if self.kind == "duckdb" else _connect_spark()
            return self._backend

    @property
    def local(self) -> bool:
        return not filesystems.is_s3(self.store_url)

    def _events_dir(self) -> str:
        return f"{self.store_url}/{schema.EVENTS_DIR}"

    def _identity_file(self) -> str:
        return f"{self.store_url}/{schema.IDENTITY_DIR}/customers.parquet"

    def _contacts_dir(self) -> str:
        return f"{self.store_url}/{schema.CONTACTS_DIR}"

    def fingerprint(self) -> Hashable | None:
        """What the store holds now: results computed for one fingerprint stay valid until a file is
        added, replaced or removed, or the identity table changes. Read from the first line of the
        store's manifest (apps.events.store: its writers start a new generation on every write); a
        store written by older code has none and is scanned (every file's name, size and modification
        time). None when the store is remote (no cheap listing) or holds no event file yet."""
        if self._pinned is not None:
            return self._pinned.fingerprint
        if not self.local:
            return None
        root = Path(self.store_url)
        head = store.manifest_header(root)
        if head is None:
            return self._scanned()
        arrived = tuple(sorted(name for name in head["pending"] if (root / name).exists()))
        if not head["events"] and not any(map(store.is_event_file, arrived)):
            return None
        return ("manifest", head["store"], head["generation"], arrived, self._identity_stamp())

    def _identity_stamp(self) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(self._identity_file())
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def _scanned(self) -> Hashable | None:
        files = []
        root = Path(self._events_dir())
        for part in sorted(root.glob(f"{schema.PARTITION_COLUMN}=*")):
            for item in os.scandir(part):
                if item.name.endswith(".parquet"):
                    stat = item.stat()
                    files.append((part.name, item.name, stat.st_size, stat.st_mtime_ns))
        if not files:
            return None
        identity = Path(self._identity_file())
        ident = identity.stat() if identity.exists() else None
        contacts = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                         for p in sorted(Path(self._contacts_dir()).glob("[!.]*.parquet")))
        return (tuple(files), (ident.st_size, ident.st_mtime_ns) if ident else None, contacts)

    def has_events(self) -> bool:
        if self.local:
            return self.fingerprint() is not None
        return self._remote_has_events()

    def _snapshot(self) -> Snapshot | None:
        """The state of a local store that the events views show (the pinned one, or the current one,
        taken again when the fingerprint moved); None while the store holds no event file."""
        with self._lock:
            wanted = self._pinned
            opened: Snapshot | None = self._tables.get("snapshot")
            if wanted is None:
                fingerprint = self.fingerprint()
                if fingerprint is None:
                    return None
                if opened is not None and opened.fingerprint == fingerprint:
                    return opened
                wanted = self._take_snapshot()
                if wanted is None:
                    return None
            if opened is not wanted:
                self._open_snapshot(wanted)
            return wanted

    def _take_snapshot(self) -> Snapshot | None:
        root = Path(self.store_url)
        manifest = store.read_manifest(root)
        if manifest is not None:
            identity_stamp = self._identity_stamp()  # before the table is read: a newer one moves it again
            existing = manifest.existing(root)
            arrived = tuple(sorted(name for name, _ in manifest.pending if name in existing))
            fingerprint: Hashable = ("manifest", manifest.store, manifest.generation, arrived, identity_stamp)
            files = tuple((name, "") for name in existing if store.is_event_file(name))
        else:
            fingerprint = self._scanned()
            if fingerprint is None:
                return None
            files = tuple(sorted((f"{schema.EVENTS_DIR}/{part}/{name}", f"{size}:{mtime}")
                                 for part, name, size, mtime in fingerprint[0]))  # type: ignore[index]
        if not files:
            return None
        identity: tuple[tuple[str, str], ...] = ()
        if Path(self._identity_file()).exists():
            table = pq.read_table(self._identity_file(), columns=["customer_id", "canonical_id"])
            identity = tuple(sorted(zip(table.column("customer_id").to_pylist(),
                                        table.column("canonical_id").to_pylist(), strict=True)))
        return Snapshot(fingerprint, files, identity)

    def _open_snapshot(self, snap: Snapshot) -> None:
        """The events view over exactly the snapshot's files and the identity table as it was read."""
        paths = [str(Path(self.store_url) / name) for name, _ in snap.files]
        table = self.backend.read_parquet(paths, table_name=EVENTS_VIEW, hive_partitioning=True)
        identity = None
        if snap.identity:
            pairs = pa.table({"customer_id": [k for k, _ in snap.identity],
                              "canonical_id": [c for _, c in snap.identity]})
            identity = self._temp_table(IDENTITY_VIEW, pairs)
        self._tables["events"] = (snap.fingerprint, table)
        self._tables["identity"] = identity
        self._tables["snapshot"] = snap

    # ------------------------------------------------------------ the events table

    def events(self, flt: EventFilter = EventFilter()) -> ir.Table:
        """The store's events with canonical customer keys, restricted by `flt` (pushed into the scan)."""
        table = self._raw_events()
        if flt.since_ms is not None:
            table = table.filter(table.ts >= flt.since_ms)
            if schema.PARTITION_COLUMN in table.columns:
                table = table.filter(table[schema.PARTITION_COLUMN] >= _date(flt.since_ms))
        if flt.until_ms is not None:
            table = table.filter(table.ts < flt.until_ms)
            if schema.PARTITION_COLUMN in table.columns:
                table = table.filter(table[schema.PARTITION_COLUMN] <= _date(flt.until_ms - 1))
        if flt.channels:
            table = table.filter(table.channel.isin(list(flt.channels)))
        if flt.types:
            table = table.filter(table.type.isin(list(flt.types)))
        table = self._canonical(table)
        if flt.customer_ids is not None:
            table = only_customers(table, flt.customer_ids)
        if flt.by_contact:
            return self._by_contact(table.select(*schema.EVENT_COLUMNS), flt)
        return table.select(*schema.EVENT_COLUMNS)

    # ------------------------------------------------------------ the journey table

    def trace_table(self) -> ir.Table | None:
        """Per customer, the journey's event types in order as one text (`trace`, types joined by
        TRACE_SEPARATOR), built with the journey table; None where there is no journey table."""
        if self.journey_table() is None:
            return None
        return self._tables["traces"][1]  # type: ignore[no-any-return]  # None when the build could not

    def trace_types(self) -> tuple[str, ...]:
        """The event type of each trace code (code = index), for the current trace table."""
        if self.trace_table() is None:
            return ()
        return self._tables["trace_types"][1]  # type: ignore[no-any-return]

    def journey_table(self) -> ir.Table | None:
        """Every event in journey order, positions and neighbours computed once per store content, or
        None where there is none (Spark, a remote store, an empty store, ANALYTICS_JOURNEY_TABLE off)
        or not yet (a full build running in the background: the caller's own window query answers).

        Columns: customer_id (canonical), type, channel, ts, seq, pos (0-based place in the customer's
        journey by ts, then seq), label_ch (type@channel), and next_/prev_ type and label_ch. The
        sort that every journey analysis needs is done here once, written to a DuckDB file in
        ANALYTICS_TEMP_DIR named after the store's content (its event files and identity table), so a
        restarted web process opens it instead of sorting again and a changed store never reads a
        stale one. When the store only gained files since a table was built, that table is brought up
        to date by a small delta file (_ready_journey_file); analyses over whole journeys then
        aggregate without a window."""
        if self.kind != "duckdb" or not getattr(settings, "ANALYTICS_JOURNEY_TABLE", True) or not self.local:
            return None
        fingerprint = self.fingerprint()
        if fingerprint is None:
            return None
        with self._lock:
            cached = self._tables.get("journeys")
            if cached is not None and cached[0] == fingerprint:
                return cached[1]  # type: ignore[no-any-return]
            snap = self._snapshot()
            if snap is None:
                return None
            path = self._ready_journey_file(snap)
            if path is None:
                return None
            try:
                table, traces, types = self._attach_journey_file(path)
            except duckdb.IOException as exc:  # removed meanwhile by a newer build: the next question opens that
                log.info("journey table %s not opened (%s); this question sorts in its own query", path.name, exc)
                return None
            self._tables["journeys"] = (snap.fingerprint, table)
            self._tables["traces"] = (snap.fingerprint, traces)
            self._tables["trace_types"] = (snap.fingerprint, types)
            return table

    # ------------------------------------------------------------ keeping the journey table up to date

    def _journey_paths(self, snap: Snapshot) -> tuple[Path, Path]:
        """The full and the delta journey file of one store content."""
        content = (JOURNEY_LAYOUT, self.store_url, snap.files, snap.identity)
        digest = hashlib.sha256(repr(content).encode()).hexdigest()[:24]
        full = _temp_dir() / f"{JOURNEY_FILE_PREFIX}{digest}.duckdb"
        return full, full.with_name(f"{JOURNEY_FILE_PREFIX}{digest}{JOURNEY_DELTA_SUFFIX}.duckdb")

    def _ready_journey_file(self, snap: Snapshot) -> Path | None:
        """The journey file for this content, made now if it can be made cheaply and exactly.

        - a full file for this content exists (any process built it): that one;
        - a full table was built for an earlier content and the store has only gained files since
          (ingest, feedback): the customers those files touch, and those whose events a merge or
          unmerge moved, are recomputed into a delta file; the view shows the base's rows of every
          other customer and the delta's rows (exactly the rows a full build would hold). Once the
          delta's customers pass ANALYTICS_JOURNEY_FOLD_SHARE of the base's, a full build starts in
          the background (the fold) and deltas keep answering until it is there;
        - otherwise (first build, files removed or replaced by compact or an update, a delta too large):
          a full build, on a thread when ANALYTICS_JOURNEY_BACKGROUND, and None meanwhile."""
        full, delta_path = self._journey_paths(snap)
        if full.exists():
            return full
        if self._valid_delta(delta_path):
            return delta_path
        base = self._upkeep_base(snap)
        fold = float(getattr(settings, "ANALYTICS_JOURNEY_FOLD_SHARE", 0.05))
        if base is not None:
            touched = self._touched(base[1], snap)
            share = len(touched) / max(int(base[1]["customers"]), 1)
            if share <= 4 * fold:
                try:
                    self._build_delta(snap, delta_path, Delta(frozenset(touched), base[0]))
                except duckdb.Error as exc:  # the full build below is the exact way left
                    log.warning("journey table: the delta of %s customers failed (%s); building in full",
                                len(touched), exc)
                else:
                    if share > fold:
                        self._full_build_soon(snap, full)
                    return full if full.exists() else delta_path
        self._full_build_soon(snap, full)
        return full if full.exists() else None

    def _valid_delta(self, path: Path) -> bool:
        meta = self._sidecar(path)
        return meta is not None and (path.parent / str(meta["base"])).exists()

    def _upkeep_base(self, snap: Snapshot) -> tuple[Path, dict[str, Any]] | None:
        """The newest full journey file of this store whose event files the store still holds
        unchanged (so the store only gained files since it was built)."""
        have = set(snap.files)
        found = []
        for path in _temp_dir().glob(f"{JOURNEY_FILE_PREFIX}*.duckdb"):
            meta = self._sidecar(path)
            if meta is None or meta["kind"] != "base" or meta["store"] != self.store_url:
                continue
            if all((name, stamp) in have for name, stamp in meta["files"]):
                found.append((float(meta["built"]), path, meta))
        if not found:
            return None
        _, path, meta = max(found, key=lambda item: item[0])
        return path, meta

    def _touched(self, base: dict[str, Any], snap: Snapshot) -> set[str]:
        """Canonical customers whose journeys differ from the base's: those of the events in files
        added since, and on both sides of every identity change (a merge moves a key's events from
        its old canonical customer to its new one; an unmerge back)."""
        covered = {(name, stamp) for name, stamp in base["files"]}
        added = [name for name, stamp in snap.files if (name, stamp) not in covered]
        before = {key: canonical for key, canonical in base["identity"]}
        now = dict(snap.identity)
        touched = set()
        for name in added:
            keys = pq.read_table(Path(self.store_url) / name, columns=["customer_id"]).column("customer_id")
            touched |= {now.get(key, key) for key in pc.unique(keys).to_pylist()}
        for key in set(before) | set(now):
            if before.get(key, key) != now.get(key, key):
                touched |= {before.get(key, key), now.get(key, key)}
        return touched

    def _build_delta(self, snap: Snapshot, path: Path, delta: Delta) -> None:
        """The delta file, built here (it is small); one process builds it, the others wait and open it."""
        with _file_lock(self._lock_file("delta"), wait=True):
            if self._valid_delta(path):
                return
            with self._pinned_to(snap):
                self._build_journey_file(path, delta)

    def _full_build_soon(self, snap: Snapshot, path: Path) -> None:
        """A full build of this content: on a thread (ANALYTICS_JOURNEY_BACKGROUND, one at a time per
        process) or here. Across processes a file lock lets one build while the others answer from
        their window queries and open the file once it is there."""
        if not getattr(settings, "ANALYTICS_JOURNEY_BACKGROUND", True):
            self._full_build(snap, path, wait=True)
            return
        if self._builder is not None and self._builder.is_alive():
            return
        self._builder = start_background(self._full_build, snap, path, name="journey-table-build", wait=False)

    def _full_build(self, snap: Snapshot, path: Path, *, wait: bool) -> None:
        try:
            with _file_lock(self._lock_file("build"), wait=wait) as held:
                if not held:
                    log.info("journey table: another process is building it; analyses sort in their own "
                             "queries until it is there")
                    return
                if path.exists():
                    return
                builder = Engine(store_url=self.store_url, kind=self.kind, snapshot=snap)
                log.info("journey table: building for %s event files (%s identity rows) into %s",
                         len(snap.files), len(snap.identity), path.name)
                try:
                    with _progress(builder, path.name), _interruptible(builder):
                        builder._build_journey_file(path)
                finally:
                    builder.close()
        except Exception:
            if wait:
                raise
            if _stopping.is_set():
                log.info("journey table: the background build stopped as the process exits")
                return
            log.exception("journey table: the background build failed; analyses sort in their own queries")

    def wait_for_build(self, timeout: float | None = None) -> None:
        """Waits for a background build this process started (warm-up, tests, benchmarks)."""
        builder = self._builder
        if builder is not None:
            builder.join(timeout)

    def close(self) -> None:
        with self._lock:
            if self._backend is not None:
                self._backend.disconnect()
                self._backend = None

    def interrupt(self) -> None:
        """Stop the DuckDB query this engine is running, if any (it raises in the thread running it)."""
        backend = self._backend
        if backend is None or self.kind != "duckdb":
            return
        try:
            backend.con.interrupt()
        except duckdb.Error:  # closed meanwhile: nothing runs on it to stop
            log.debug("journey table: nothing to interrupt on a closed connection")

    @contextmanager
    def _pinned_to(self, snap: Snapshot) -> Iterator[None]:
        with self._lock:
            saved, self._pinned = self._pinned, snap
            try:
                yield
            finally:
                self._pinned = saved

    def _lock_file(self, what: str) -> Path:
        digest = hashlib.sha256(self.store_url.encode()).hexdigest()[:16]
        return _temp_dir() / f".{JOURNEY_FILE_PREFIX}{digest}.{what}.lock"

    def _sidecar(self, path: Path) -> dict[str, Any] | None:
        """What a journey file covers (its `.json` beside it), None for a file without one."""
        side = path.with_suffix(".json")
        try:
            stamp = side.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        cached = self._sidecars.get(side)
        if cached is None or cached[0] != stamp:
            try:
                meta = json.loads(side.read_text())
            except (OSError, ValueError):
                meta = None
            if meta is not None and meta.get("layout") != JOURNEY_LAYOUT:
                meta = None
            cached = (stamp, meta)
            self._sidecars[side] = cached
        return cached[1]

    def _build_events(self, delta: Delta | None) -> ir.Table:
        """The events a build reads: every event, or a delta's customers' (a table, not a literal list)."""
        events = self.events()
        if delta is None:
            return events
        touched = pa.table({"customer_id": pa.array(sorted(delta.customers), pa.string())})
        table = self._temp_table(TOUCHED_TABLE, touched)
        return events.filter(events.customer_id.isin(table.customer_id))

    def _temp_table(self, name: str, rows: pa.Table) -> ir.Table:
        """Rows as a temporary table of this connection under a fixed name (so compiled SQL run on
        the raw connection finds it, which an Ibis memtable's generated name would not)."""
        con = self.backend.con
        con.register("journeyhub_rows", rows)
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM journeyhub_rows")
        finally:
            con.unregister("journeyhub_rows")
        return self.backend.table(name)

    def _publish(self, partial: Path, path: Path, delta: Delta | None, started: float) -> None:
        """Records what the built file covers beside it (a full file: the snapshot's files and identity,
        which later deltas compare with; a delta: its base, and its customers as `hidden`), moves it
        into place and removes this store's older journey files."""
        snap = self._snapshot()
        assert snap is not None  # a build reads a pinned snapshot
        con = self.backend.con
        meta: dict[str, Any] = {"store": self.store_url, "layout": JOURNEY_LAYOUT, "built": time.time()}
        # the wall-clock time the build began: files made before it are replaced by this one. Taken now,
        # not after the steps below, whose time (longer on a busy machine) would move it back past a
        # delta published just before this build began, which would then be kept
        began = meta["built"] - (time.perf_counter() - started)
        con.execute(f"ATTACH '{partial}' AS journeyhub_build")
        try:
            if delta is None:
                customers = con.execute("SELECT count(DISTINCT customer_id) FROM journeyhub_build.journeys").fetchone()
                meta.update(kind="base", customers=int(customers[0]) if customers else 0,
                            files=[list(f) for f in snap.files], identity=[list(p) for p in snap.identity])
            else:
                con.execute(f"CREATE TABLE journeyhub_build.hidden AS SELECT customer_id FROM {TOUCHED_TABLE}")
                meta.update(kind="delta", base=delta.base.name, customers=len(delta.customers))
        finally:
            con.execute("DETACH journeyhub_build")
        side = path.with_suffix(".json")
        partial_side = side.with_name(f".{side.name}-{os.getpid()}-{threading.get_ident()}.tmp")
        partial_side.write_text(json.dumps(meta))
        os.replace(partial_side, side)
        os.replace(partial, path)
        self._remove_older(keep={path, delta.base} if delta else {path}, before=began)
        what = f"delta of {len(delta.customers)} customers on {delta.base.name}" if delta else "full"
        log.info("journey table built in %.1f s (%s): %s", time.perf_counter() - started, what, path)

    def _remove_older(self, *, keep: set[Path], before: float) -> None:
        """This store's journey files made before `before` (and files without a record, from older
        code) other than `keep`: a process still reading one keeps it open until it moves on. A file's
        age is the build time its record holds, not its modification time, which a reader attaching
        it may move past `before` (a delta answering while the fold that replaces it was built)."""
        for old in _temp_dir().glob(f"{JOURNEY_FILE_PREFIX}*.duckdb"):
            meta = self._sidecar(old)
            if old in keep or (meta is not None and meta["store"] != self.store_url):
                continue
            try:
                made = float(meta["built"]) if meta is not None and "built" in meta else old.stat().st_mtime
            except FileNotFoundError:
                continue
            if made >= before:
                continue
            old.unlink(missing_ok=True)
            old.with_suffix(".json").unlink(missing_ok=True)

    def _build_journey_file(self, path: Path, delta: Delta | None = None) -> None:
        """Builds the journey table of the pinned snapshot into `path` (or, with `delta`, the
        journeys of those customers only), then publishes it (_publish)."""
        started = time.perf_counter()
        events = self._build_events(delta)
        window = ibis.window(group_by=events.customer_id, order_by=[events.ts, events.seq])
        label_ch = events.type.concat(LABEL_SEPARATOR, events.channel)
        table = events.select("customer_id", "type", "channel", "ts", "seq", label_ch=label_ch)
        table = table.mutate(pos=ibis.row_number().over(window),
                             next_type=table.type.lead().over(window), prev_type=table.type.lag().over(window),
                             next_ch=table.label_ch.lead().over(window), prev_ch=table.label_ch.lag().over(window))
        sql = self.backend.compile(table)
        partial = path.with_name(f".{path.stem}-{os.getpid()}-{threading.get_ident()}.tmp")
        partial.unlink(missing_ok=True)
        try:
            self._fill_journey_file(partial, sql, delta)
            self._publish(partial, path, delta, started)
        except BaseException:  # failed, or interrupted as the process exits: nothing left in the temp dir
            for leftover in (partial, partial.with_name(f"{partial.name}.wal")):
                leftover.unlink(missing_ok=True)
            raise

    def _fill_journey_file(self, partial: Path, sql: str, delta: Delta | None) -> None:
        con = self.backend.con
        con.execute(f"ATTACH '{partial}' AS journeyhub_build")
        try:
            con.execute(f"CREATE TABLE journeyhub_build.journeys AS {sql}")
            try:
                _build_traces(con, "journeyhub_build", self._base_trace_types(delta))
            except duckdb.OutOfMemoryException as exc:  # kept without traces: variants sort instead
                log.warning("journey table without traces (variants sort journeys per query): %s", exc)
                con.execute("DROP TABLE IF EXISTS journeyhub_build.traces")  # never a part of the customers
                con.execute("DROP TABLE IF EXISTS journeyhub_build.trace_types")
            except TraceCodesExhausted as exc:
                log.info("journey delta without traces (variants sort journeys per query): %s", exc)
        finally:
            con.execute("DETACH journeyhub_build")

    def _attach_journey_file(self, path: Path) -> tuple[ir.Table, ir.Table | None, tuple[str, ...]]:
        """The journey views over a full file, or over a delta file and its base (the base's rows of
        customers the delta does not hide, then the delta's rows), and the event type of each trace code
        (a delta's codes extend its base's, so one list decodes both)."""
        con = self.backend.con
        meta = self._sidecar(path)
        delta = path.stem.endswith(JOURNEY_DELTA_SUFFIX)
        if delta and meta is None:  # removed meanwhile: a delta alone is not the table
            raise duckdb.IOException(f"the record of {path.name} is gone")
        parts = [path.parent / str(meta["base"]), path] if delta and meta else [path]
        aliases = [self._attach(part) for part in parts]
        traced = [con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND "
                              "table_name IN ('traces', 'trace_types')", [alias]).fetchall()[0][0] for alias in aliases]
        has_traces = all(count == 2 for count in traced)
        if delta:
            base, top = aliases
            con.execute(f"CREATE OR REPLACE TEMP VIEW {JOURNEYS_VIEW} AS SELECT * FROM {base}.journeys "
                        f"ANTI JOIN {top}.hidden USING (customer_id) UNION ALL SELECT * FROM {top}.journeys")
            if has_traces:
                con.execute(f"CREATE OR REPLACE TEMP VIEW {TRACES_VIEW} AS SELECT * FROM {base}.traces "
                            f"ANTI JOIN {top}.hidden USING (customer_id) UNION ALL SELECT * FROM {top}.traces")
        else:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {JOURNEYS_VIEW} AS SELECT * FROM {aliases[0]}.journeys")
            if has_traces:
                con.execute(f"CREATE OR REPLACE TEMP VIEW {TRACES_VIEW} AS SELECT * FROM {aliases[0]}.traces")
        for other, alias in list(self._aliases.items()):
            if alias not in aliases:
                con.execute(f"DETACH {alias}")
                del self._aliases[other]
        types = (_trace_types_of(con, aliases[-1]) or ()) if has_traces else ()
        return self.backend.table(JOURNEYS_VIEW), self.backend.table(TRACES_VIEW) if has_traces else None, types

    def _base_trace_types(self, delta: Delta | None) -> tuple[str, ...] | None:
        """The trace codes of a delta's base (its traces must spell types with the same codes, so the
        base's traces and the delta's decode with one list); None for a full build or a base without
        traces."""
        if delta is None:
            return None
        return _trace_types_of(self.backend.con, self._attach(delta.base))

    def _attach(self, path: Path) -> str:
        if path not in self._aliases:
            self._attached += 1
            alias = f"journeyhub_journeys_{self._attached}"
            self.backend.con.execute(f"ATTACH '{path}' AS {alias} (READ_ONLY)")
            self._aliases[path] = alias
        return self._aliases[path]

    def _by_contact(self, table: ir.Table, flt: EventFilter) -> ir.Table:
        """Events of the customers with a matching contact among them, each marked `contact_match`."""
        contacts = self.contacts()
        ok = ibis.literal(True)
        if flt.categories:
            ok = ibis.or_(*[contacts.categories.contains(name) for name in flt.categories])
        if flt.sentiment_min is not None:
            ok &= contacts.sentiment_customer >= flt.sentiment_min
        if flt.sentiment_max is not None:
            ok &= contacts.sentiment_customer <= flt.sentiment_max
        hits = contacts.filter(ok).select(hit_id=contacts.event_id)
        joined = table.left_join(hits, table.event_id == hits.hit_id)
        marked = joined.mutate(contact_match=joined.hit_id.notnull()).drop("hit_id")
        customers = marked.filter(marked.contact_match).select(hit_customer=marked.customer_id).distinct()
        return marked.filter(marked.customer_id.isin(customers.hit_customer))

    def contacts(self) -> ir.Table:
        """The contacts table (apps.events.contacts): each contact's latest summary by event id; empty
        when no contact summary has been written."""
        from apps.events import contacts as contact_files

        fingerprint = self.fingerprint() if self.local else "remote"
        with self._lock:
            cached = self._tables.get("contacts")
            if cached is not None and cached[0] == fingerprint and fingerprint is not None:
                return cached[1]
            if contact_files.contact_files():
                table = self._read(self._contacts_dir(), CONTACTS_VIEW, partitioned=False, glob="*.parquet")
                window = ibis.window(group_by=table.event_id, order_by=ibis.desc(table.updated))
                table = table.mutate(row=ibis.row_number().over(window))
                table = table.filter(table.row == 0).drop("row")
            else:
                table = ibis.memtable(contact_files.CONTACT_SCHEMA.empty_table().to_pandas(),
                                      schema=ibis.schema(contact_files.CONTACT_SCHEMA))
            self._tables["contacts"] = (fingerprint, table)
            return table

    def _raw_events(self) -> ir.Table:
        if self.kind == "duckdb" and self.local:
            snap = self._snapshot()
            if snap is None:
                return _graph_events()
            return self._tables["events"][1]  # type: ignore[no-any-return]
        fingerprint = self.fingerprint() if self.local else "remote"
        if fingerprint is None:
            return _graph_events()
        with self._lock:
            cached = self._tables.get("events")
            if cached is not None and cached[0] == fingerprint:
                if self._tables.get("identity") is None and not self.local and self._identity_exists():
                    self._tables["identity"] = self._read(self._identity_file(), IDENTITY_VIEW, partitioned=False)
                return cached[1]
            if not self.local and not self._remote_has_events():
                return _graph_events()
            table = self._read(self._events_dir(), EVENTS_VIEW, partitioned=True)
            identity = None
            if self._identity_exists():
                identity = self._read(self._identity_file(), IDENTITY_VIEW, partitioned=False)
            self._tables["events"] = (fingerprint, table)
            self._tables["identity"] = identity
            return table

    def _remote_fs(self) -> Any:
        """The S3 filesystem DuckDB reads a remote store through (apps.events.filesystems), registered
        with the connection once."""
        with self._lock:
            if "fs" not in self._tables:
                fs = filesystems.fsspec_s3()
                if self.kind == "duckdb":
                    self.backend.register_filesystem(fs)
                self._tables["fs"] = fs
            return self._tables["fs"]

    def _remote_has_events(self) -> bool:
        return filesystems.has_files(self._remote_fs(), f"{self._events_dir()}/*/*.parquet")

    def _identity_exists(self) -> bool:
        if self.local:
            return Path(self._identity_file()).exists()
        return filesystems.exists(self._remote_fs(), self._identity_file())

    def _read(self, path: str, name: str, *, partitioned: bool, glob: str = "") -> ir.Table:
        if self.kind == "duckdb":
            if not self.local:
                self._remote_fs()
                path = filesystems.duckdb_path(path)
            pattern = f"{path}/*/*.parquet" if partitioned else f"{path}/{glob}" if glob else path
            return self.backend.read_parquet(pattern, table_name=name, hive_partitioning=partitioned)
        return self.backend.read_parquet(path, table_name=name)

    def _canonical(self, table: ir.Table) -> ir.Table:
        """Customer keys as analyses group them: merged customers under their canonical key."""
        identity = self._tables.get("identity")
        if identity is None or "__graph__" in table.columns:
            return table
        ident = identity.select(key=identity.customer_id, canonical=identity.canonical_id)
        joined = table.left_join(ident, table.customer_id == ident.key)
        return joined.mutate(customer_id=joined.canonical.coalesce(joined.customer_id))

    # ------------------------------------------------------------ execution and cache

    def execute(self, expr: ir.Expr) -> Any:
        with self._lock:
            return self.backend.execute(expr)

    def to_arrow(self, expr: ir.Table) -> Any:
        """A table result as a pyarrow Table (no pandas objects: for results decoded with numpy)."""
        with self._lock:
            return self.backend.to_pyarrow(expr)

    def cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        """A result for this store content, computed once (LRU of ANALYTICS_RESULT_CACHE entries)."""
        size = int(getattr(settings, "ANALYTICS_RESULT_CACHE", 64))
        fingerprint = self.fingerprint() if self.local else None
        if fingerprint is None or size <= 0:
            return compute()
        full = (fingerprint, key)
        with self._lock:
            if full in self._results:
                self._results.move_to_end(full)
                return self._results[full]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self._results[full] = value
            while len(self._results) > size:
                self._results.popitem(last=False)
        return value

    def catalog(self) -> dict[str, tuple[str, ...]]:
        """Every event type, channel and contact category in the store (what a question may name)."""
        def compute() -> dict[str, tuple[str, ...]]:
            table = self.journey_table()
            if table is None:
                table = self.events()
            types = self.execute(table.select("type").distinct())["type"]
            channels = self.execute(table.select("channel").distinct())["channel"]
            contacts = self.contacts()
            names = contacts.select(category=contacts.categories.unnest()).distinct()
            categories = self.execute(names)["category"]
            return {"type": tuple(sorted(map(str, types))), "channel": tuple(sorted(map(str, channels))),
                    "category": tuple(sorted(map(str, categories.dropna())))}
        return self.cached(("catalog",), compute)

    def check_known(self, kind: str, values: Iterable[str]) -> None:
        """Raise UnknownValueError naming every value of `kind` ("type", "channel" or "category") not in
        the store."""
        wanted = set(values)
        if not wanted:
            return
        known = set(self.catalog()[kind])
        unknown = sorted(wanted - known)
        if unknown:
            held = "contact summaries" if kind == "category" else "events"
            shown = ", ".join(sorted(known)[:30]) or f"none: the store holds no {held}"
            what = "contact category" if kind == "category" else f"event {kind}"
            raise UnknownValueError(f"unknown {what}(s) {', '.join(map(repr, unknown))}; known: {shown}")


def trace_width(types: int) -> int:
    """How many TRACE_BASE digits spell one of `types` event types in a trace."""
    width = 1
    while TRACE_BASE ** width < types:
        width += 1
    return width


def trace_symbol(code: int, types: int) -> str:
    """Code `code` of `types` event types as it is spelled in a trace: trace_width(types) ASCII digits."""
    width = trace_width(types)
    return "".join(chr(TRACE_ZERO + code // TRACE_BASE ** (width - 1 - k) % TRACE_BASE) for k in range(width))


def _trace_types_of(con: Any, alias: str) -> tuple[str, ...] | None:
    """The event type of each trace code in an attached journey file, None when it has none."""
    has = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND "
                      "table_name = 'trace_types'", [alias]).fetchall()[0][0]
    if not has:
        return None
    return tuple(t for (t,) in con.execute(f"SELECT type FROM {alias}.trace_types ORDER BY code").fetchall())


class TraceCodesExhausted(Exception):
    """A delta's new event types do not fit the code width of its base's traces."""


def _build_traces(con: Any, db: str, base_types: tuple[str, ...] | None = None) -> None:
    """Each customer's event types in journey order as one code text (`traces`), and each type's
    code (`trace_types`). Codes instead of names keep the text short and let variants decode every
    trace at once (fixed-width ASCII digits: the text's bytes are the codes). The customers are taken
    in hash buckets of about TRACE_BUCKET_EVENTS events, so the ordered aggregate (which cannot
    spill to disk) holds one bucket at a time, whatever the size of the store."""
    types = [t for (t,) in con.execute(f"SELECT DISTINCT type FROM {db}.journeys ORDER BY type").fetchall()]
    if base_types is not None:  # a delta: the base's codes, then codes for types the base has not seen
        known = set(base_types)
        types = [*base_types, *(t for t in types if t not in known)]
        if trace_width(len(types)) != trace_width(len(base_types)):
            raise TraceCodesExhausted(f"{len(types)} event types need wider codes than the base's")
    con.execute(f"CREATE TABLE {db}.trace_types (code INTEGER, type VARCHAR, symbol VARCHAR)")
    if types:
        con.executemany(f"INSERT INTO {db}.trace_types VALUES (?, ?, ?)",
                        [(code, t, trace_symbol(code, len(types))) for code, t in enumerate(types)])
    con.execute(f"CREATE TABLE {db}.traces (customer_id VARCHAR, trace VARCHAR)")
    events = con.execute(f"SELECT count(*) FROM {db}.journeys").fetchall()[0][0]
    buckets = max(1, -(-events // TRACE_BUCKET_EVENTS))
    for bucket in range(buckets):
        where = f"WHERE hash(j.customer_id) % {buckets} = {bucket}" if buckets > 1 else ""
        con.execute(f"INSERT INTO {db}.traces SELECT j.customer_id, string_agg(t.symbol, '' ORDER BY j.pos) "
                    f"FROM {db}.journeys j JOIN {db}.trace_types t ON j.type = t.type {where} "
                    "GROUP BY j.customer_id")
        if buckets > 1:
            log.info("traces: bucket %d of %d", bucket + 1, buckets)


def only_customers(table: ir.Table, customer_ids: tuple[str, ...]) -> ir.Table:
    """Rows of these (canonical) customers only; a long list is joined as a table, not inlined."""
    if len(customer_ids) <= 1000:
        return table.filter(table.customer_id.isin(list(customer_ids)))
    wanted = ibis.memtable(pd.DataFrame({"wanted_id": list(customer_ids)}))
    return table.filter(table.customer_id.isin(wanted.wanted_id))


def _temp_dir() -> Path:
    path = Path(str(getattr(settings, "ANALYTICS_TEMP_DIR", "var/analytics-tmp")))
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def _file_lock(path: Path, *, wait: bool) -> Iterator[bool]:
    """An exclusive lock between processes (and engines of one process); yields False when `wait` is
    off and another holds it."""
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _progress(engine: Engine, name: str) -> Iterator[None]:
    """Logs a long build's progress (DuckDB's estimate for the running query) every
    ANALYTICS_PROGRESS_SECONDS until it ends."""
    every = float(getattr(settings, "ANALYTICS_PROGRESS_SECONDS", 10))
    done = threading.Event()
    started = time.perf_counter()

    def report() -> None:
        while not done.wait(every):
            try:
                percent = engine.backend.con.query_progress()
            except Exception:  # noqa: BLE001 - progress is informative only
                percent = -1
            shown = f"{percent:.0f}% of the current step" if percent >= 0 else "running"
            log.info("journey table %s: %s after %.0f s", name, shown, time.perf_counter() - started)

    thread = threading.Thread(target=report, name="journey-table-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _date(ms: int) -> Any:
    return ibis.date(datetime.fromtimestamp(ms / 1000, tz=UTC).date().isoformat())


def _graph_events() -> ir.Table:
    """The graph's events as an in-memory table, for a store that has not been written yet."""
    from graph import journeys as graph_journeys

    log.warning("the event store holds no events: analytics read the graph (run `manage.py events_store rebuild`)")
    frame = graph_journeys.events_frame()  # sorted by customer, ts, event id: today's arrival order
    frame = frame.assign(seq=range(len(frame)), source=None, batch_id=None,
                         attributes=[json.dumps(a, sort_keys=True) if isinstance(a, dict) else a
                                     for a in frame["attributes"]])
    frame = frame.assign(__graph__=1)
    columns = [*schema.EVENT_COLUMNS, "__graph__"]
    return ibis.memtable(frame[columns], schema=ibis.schema({**IBIS_SCHEMA, "__graph__": "int64"}))


def _connect_duckdb() -> Any:
    """DuckDB in process: all cores (or ANALYTICS_THREADS), spilling to ANALYTICS_TEMP_DIR past
    ANALYTICS_MEMORY_LIMIT, row order free (no analysis relies on it: each orders by ts, seq), and
    Parquet footers cached across queries (the store's files are never rewritten in place)."""
    threads = int(getattr(settings, "ANALYTICS_THREADS", 0)) or (os.cpu_count() or 1)
    backend = ibis.duckdb.connect(threads=threads, memory_limit=str(getattr(settings, "ANALYTICS_MEMORY_LIMIT", "1GB")),
                                  temp_directory=str(_temp_dir()), preserve_insertion_order=False)
    backend.con.execute("SET parquet_metadata_cache = true")  # the extension loads on connect, not before
    return backend


def _connect_spark() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # the optional extra
        raise RuntimeError("ANALYTICS_ENGINE=spark needs pyspark and Java 17: pip install 'pyspark==4.0.5' "
                           "(the project's `spark` extra)") from exc
    session = (SparkSession.builder.master(str(getattr(settings, "SPARK_MASTER", "local[2]")))
               .appName("journeyhub-analytics")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", str(getattr(settings, "ANALYTICS_SPARK_PARTITIONS", 8)))
               .config("spark.sql.sources.parallelPartitionDiscovery.threshold", "1024")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return ibis.pyspark.connect(session)


def warm_up(*, background: bool = True) -> threading.Thread | None:
    """Connect the configured engine when a web process starts, so its first question does not pay
    for loading the engine; then, on a thread, open the journey table (building it when the store
    changed since it was last built), so the first question finds it ready. A store that cannot be
    opened now is reported by the first question instead."""
    try:
        engine = get_engine()
        engine.backend  # noqa: B018 - connects
    except Exception as exc:  # noqa: BLE001 - start-up must not fail on an optional warm-up
        log.warning("analytics engine not warmed up at start: %s", exc)
        return None
    if not background:
        _open_journeys(engine)
        engine.wait_for_build()
        _open_journeys(engine)  # a build that ran on a thread is opened now
        return None
    return start_background(_open_journeys, engine, name="analytics-warm-up")


def _open_journeys(engine: Engine) -> None:
    if _stopping.is_set():
        return
    try:
        engine.journey_table()
    except Exception as exc:  # noqa: BLE001 - the first question reports a store it cannot read
        log.warning("journey table not prepared at start: %s", exc)


# ---------------------------------------------------------------- background work and the process's exit

EXIT_WAIT_SECONDS = 10.0
_stopping = threading.Event()
_background: set[threading.Thread] = set()
_building: set[Engine] = set()
_background_lock = threading.Lock()


def start_background(target: Callable[..., Any], *args: Any, name: str, **kwargs: Any) -> threading.Thread:
    """A daemon thread for the warm-up or a journey build, known to `stop_background_work` so the
    process's exit waits for it instead of killing it mid-call."""

    def run() -> None:
        try:
            target(*args, **kwargs)
        finally:
            with _background_lock:
                _background.discard(thread)

    at_process_end(stop_background_work)  # atexit (below) misses granian's workers
    thread = threading.Thread(target=run, name=name, daemon=True)
    with _background_lock:
        _background.add(thread)
    thread.start()
    return thread


@contextmanager
def _interruptible(engine: Engine) -> Iterator[None]:
    """A build `stop_background_work` may interrupt while it runs."""
    with _background_lock:
        _building.add(engine)
    try:
        if _stopping.is_set():
            raise RuntimeError("the process is exiting")
        yield
    finally:
        with _background_lock:
            _building.discard(engine)


def stop_background_work(timeout: float = EXIT_WAIT_SECONDS) -> bool:
    """Interrupt running journey builds and wait for the warm-up and build threads to end; whether they did.

    Run at the process's exit: atexit, and `at_process_end` for the processes that skip atexit (granian's
    workers; twice elsewhere, the second finding nothing to stop). A daemon thread still running when
    the interpreter finalizes is ended where it next waits for the GIL, and when that is inside a
    native library's code (a pyarrow or DuckDB object released on the thread) the C++ runtime aborts
    the whole process: exit status 134 and "terminate called ..." on stderr instead of a clean stop. A
    build interrupted here is not lost: its partial file is never published (and is removed), and the
    next process builds it again."""
    _stopping.set()
    deadline = time.monotonic() + timeout
    while True:
        with _background_lock:
            threads, builders = list(_background), list(_building)
        alive = [thread for thread in threads if thread.is_alive() and thread is not threading.current_thread()]
        left = deadline - time.monotonic()
        if not alive or left <= 0:
            return not alive
        for engine in builders:  # again each turn: an interrupt between two queries stops nothing
            engine.interrupt()
        alive[0].join(min(left, 0.1))


atexit.register(stop_background_work)

_engines: dict[tuple[str, str], Engine] = {}
_engines_lock = threading.Lock()


def get_engine() -> Engine:
    """The process's engine for the configured store and engine kind (one backend connection each)."""
    key = (str(settings.EVENTS_STORE_URL), str(getattr(settings, "ANALYTICS_ENGINE", "duckdb")))
    with _engines_lock:
        if key not in _engines:
            _engines[key] = Engine(store_url=key[0], kind=key[1])
        return _engines[key]
