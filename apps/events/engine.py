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

import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import ibis
import ibis.expr.types as ir
import pandas as pd
from django.conf import settings

from apps.events import filesystems, schema

log = logging.getLogger(__name__)
ENGINES = ("duckdb", "spark")
EVENTS_VIEW = "journeyhub_events"
IDENTITY_VIEW = "journeyhub_identity"
JOURNEYS_VIEW = "journeyhub_journeys"
TRACES_VIEW = "journeyhub_traces"
JOURNEY_FILE_PREFIX = "journeys-"
LABEL_SEPARATOR = "@"  # apps.journeys.analyzers.base.SEPARATOR: type@channel labels
JOURNEY_LAYOUT = 2  # in the journey file's name: a file of another layout is never opened
TRACE_BASE = 64  # a trace spells each event type in TRACE_BASE digits, one ASCII byte each from TRACE_ZERO
TRACE_ZERO = 48
TRACE_BUCKET_EVENTS = 4_000_000  # the traces step aggregates at most about this many events at a time
CONTACTS_VIEW = "journeyhub_contacts"
IBIS_SCHEMA = ibis.schema({name: ("int64" if kind == "int64" else "string")
                           for name, kind in schema.EVENT_COLUMNS.items()})
T = TypeVar("T")


class UnknownValueError(ValueError):
    """A question names an event type, channel or label no event in the store carries."""


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

    def __init__(self, *, store_url: str, kind: str) -> None:
        if kind not in ENGINES:
            raise ValueError(f"ANALYTICS_ENGINE must be one of {', '.join(ENGINES)}, got {kind!r}")
        self.store_url = store_url.rstrip("/")
        self.kind = kind
        self._lock = threading.RLock()
        self._backend: Any = None
        self._tables: dict[str, Any] = {}
        self._results: OrderedDict[Hashable, Any] = OrderedDict()

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
        """What the store holds now (every file's name, size and modification time): results computed
        for one fingerprint stay valid until a file is added, replaced or removed. None when the store
        is remote (no cheap listing) or holds no event file yet."""
        if not self.local:
            return None
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
        """Per customer, the journey's event types in order as one code text (`trace`: each type as
        its code in `trace_width()` fixed-width digits, see `trace_types()`), built with the journey
        table; None where there is no journey table."""
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
        None where there is none (Spark, a remote store, an empty store, ANALYTICS_JOURNEY_TABLE off).

        Columns: customer_id (canonical), type, channel, ts, seq, pos (0-based place in the customer's
        journey by ts, then seq), label_ch (type@channel), and next_/prev_ type and label_ch. The
        sort that every journey analysis needs is done here once, written to a DuckDB file in
        ANALYTICS_TEMP_DIR named after the store's fingerprint (so a restarted web process opens it
        instead of sorting again, and a changed store never reads a stale one); analyses over whole
        journeys then aggregate without a window."""
        if self.kind != "duckdb" or not getattr(settings, "ANALYTICS_JOURNEY_TABLE", True) or not self.local:
            return None
        fingerprint = self.fingerprint()
        if fingerprint is None:
            return None
        with self._lock:
            cached = self._tables.get("journeys")
            if cached is not None and cached[0] == fingerprint:
                return cached[1]  # type: ignore[no-any-return]
            self._raw_events()  # the events view (and identity) for this fingerprint
            path = self._journey_file(fingerprint)
            if not path.exists():
                self._build_journey_file(path)
            table, traces, types = self._attach_journey_file(path)
            self._tables["journeys"] = (fingerprint, table)
            self._tables["traces"] = (fingerprint, traces)
            self._tables["trace_types"] = (fingerprint, types)
            return table

    def _journey_file(self, fingerprint: Hashable) -> Path:
        digest = hashlib.sha256(repr((self.store_url, fingerprint, JOURNEY_LAYOUT)).encode()).hexdigest()[:24]
        return _temp_dir() / f"{JOURNEY_FILE_PREFIX}{digest}.duckdb"

    def _build_journey_file(self, path: Path) -> None:
        started = time.perf_counter()
        events = self.events()
        window = ibis.window(group_by=events.customer_id, order_by=[events.ts, events.seq])
        label_ch = events.type.concat(LABEL_SEPARATOR, events.channel)
        table = events.select("customer_id", "type", "channel", "ts", "seq", label_ch=label_ch)
        table = table.mutate(pos=ibis.row_number().over(window),
                             next_type=table.type.lead().over(window), prev_type=table.type.lag().over(window),
                             next_ch=table.label_ch.lead().over(window), prev_ch=table.label_ch.lag().over(window))
        sql = self.backend.compile(table)
        partial = path.with_name(f".{path.stem}-{os.getpid()}-{threading.get_ident()}.tmp")
        partial.unlink(missing_ok=True)
        con = self.backend.con
        con.execute(f"ATTACH '{partial}' AS journeyhub_build")
        try:
            con.execute(f"CREATE TABLE journeyhub_build.journeys AS {sql}")
            try:
                _build_traces(con, "journeyhub_build")
            except duckdb.OutOfMemoryException as exc:  # kept without traces: variants sort instead
                log.warning("journey table without traces (variants sort journeys per query): %s", exc)
                con.execute("DROP TABLE IF EXISTS journeyhub_build.traces")  # never a part of the customers
                con.execute("DROP TABLE IF EXISTS journeyhub_build.trace_types")
        finally:
            con.execute("DETACH journeyhub_build")
        os.replace(partial, path)
        for old in path.parent.glob(f"{JOURNEY_FILE_PREFIX}*.duckdb"):
            if old != path:  # a process still reading an older file keeps it open until it moves on
                old.unlink(missing_ok=True)
        log.info("journey table built in %.1f s: %s", time.perf_counter() - started, path)

    def _attach_journey_file(self, path: Path) -> tuple[ir.Table, ir.Table | None, tuple[str, ...]]:
        con = self.backend.con
        self._attached = getattr(self, "_attached", 0) + 1
        alias = f"journeyhub_journeys_{self._attached}"
        con.execute(f"ATTACH '{path}' AS {alias} (READ_ONLY)")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {JOURNEYS_VIEW} AS SELECT * FROM {alias}.journeys")
        has_traces = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND "
                                 "table_name IN ('traces', 'trace_types')", [alias]).fetchall()[0][0] == 2
        types: tuple[str, ...] = ()
        if has_traces:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {TRACES_VIEW} AS SELECT * FROM {alias}.traces")
            types = tuple(t for (t,) in con.execute(f"SELECT type FROM {alias}.trace_types ORDER BY code").fetchall())
        if self._attached > 1:
            con.execute(f"DETACH journeyhub_journeys_{self._attached - 1}")
        return self.backend.table(JOURNEYS_VIEW), self.backend.table(TRACES_VIEW) if has_traces else None, types

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


def _build_traces(con: Any, db: str) -> None:
    """Each customer's event types in journey order as one code text (`traces`), and each type's
    code (`trace_types`). Codes instead of names keep the text short and let variants decode every
    trace at once (fixed-width ASCII digits: the text's bytes are the codes). The customers are taken
    in hash buckets of about TRACE_BUCKET_EVENTS events, so the ordered aggregate (which cannot
    spill to disk) holds one bucket at a time, whatever the size of the store."""
    types = [t for (t,) in con.execute(f"SELECT DISTINCT type FROM {db}.journeys ORDER BY type").fetchall()]
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
        return None
    thread = threading.Thread(target=_open_journeys, args=(engine,), name="analytics-warm-up", daemon=True)
    thread.start()
    return thread


def _open_journeys(engine: Engine) -> None:
    try:
        engine.journey_table()
    except Exception as exc:  # noqa: BLE001 - the first question reports a store it cannot read
        log.warning("journey table not prepared at start: %s", exc)


_engines: dict[tuple[str, str], Engine] = {}
_engines_lock = threading.Lock()


def get_engine() -> Engine:
    """The process's engine for the configured store and engine kind (one backend connection each)."""
    key = (str(settings.EVENTS_STORE_URL), str(getattr(settings, "ANALYTICS_ENGINE", "duckdb")))
    with _engines_lock:
        if key not in _engines:
            _engines[key] = Engine(store_url=key[0], kind=key[1])
        return _engines[key]
