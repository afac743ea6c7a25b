"""The decision log, written off the caller's path when DECISIONS_LOG_ASYNC is on.

A waiting caller should not pay for a database commit: with the flag on, each decision's fields go
to an in-process queue that a background thread turns into rows and writes in batches (one insert of
many rows, its parameters built straight from the fields: building model instances and letting
`bulk_create` prepare each field held the interpreter lock about 40 µs a row, in bursts of a quarter
second's rows that the requests then waited out). The writer
gathers rows for up to GATHER_SECONDS after the first one arrives, because an insert of one row
costs nearly as much CPU as an insert of fifty, and at hundreds of decisions a second that CPU is
taken from the callers. The monitor lags by at most that long; `flush()` writes at once (feedback
looks up the decision it answers, so it flushes first). A batch the database refuses (restarted,
failed over, unreachable) stays queued and is tried again, waiting longer each time up to
RETRY_MAX_SECONDS, until the database takes it: an outage delays the log, it never loses rows (the
backlog then goes in full batches, one after another). A graceful stop (SIGTERM to granian or
gunicorn) writes what is still queued, waiting up to FLUSH_TIMEOUT_SECONDS for the database, before
the process ends: granian's workers are multiprocessing children, which end through `os._exit`
without running atexit, so the writer registers that last write with
`journeyhub.long_lived.at_process_end`, which runs in either case. Rows still queued when a process is
killed (SIGKILL, a crash) are lost, which is why the flag is off by default (tests and small installs
write synchronously). Set it in settings or in the environment: DECISIONS_LOG_ASYNC=true.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Any

from django.conf import settings
from django.db import DataError, IntegrityError, connection, models, transaction
from django.utils import timezone

from apps.decisions import telemetry
from apps.decisions.models import DecisionLog
from journeyhub.long_lived import at_process_end

log = logging.getLogger(__name__)
Fields = dict[str, Any]  # one row's field values, as DecisionLog(**fields) takes them
BATCH = 500
UNWRITABLE = (TypeError, ValueError)  # what the JSON encoder raises for a value it cannot write
GATHER_SECONDS = 0.25
RETRY_FIRST_SECONDS = 0.25
RETRY_MAX_SECONDS = 5.0
FLUSH_TIMEOUT_SECONDS = 10.0


def async_enabled() -> bool:
    configured = getattr(settings, "DECISIONS_LOG_ASYNC", None)
    if configured is None:
        configured = os.environ.get("DECISIONS_LOG_ASYNC", "").lower() in {"1", "true", "yes", "on"}
    return bool(configured)


class _Writer:
    """One daemon thread per process (started lazily, so after any fork) draining a queue."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Fields | None] = queue.Queue()
        self._write_now = threading.Event()  # set while a flush waits: every batch is written at once
        self._flushes = 0
        self._pid: int | None = None
        self._lock = threading.Lock()
        self.failed = threading.Event()  # set when a write fails (the batch is tried again), for tests

    def submit(self, row: Fields) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.Queue()
                self._write_now, self._flushes = threading.Event(), 0
                threading.Thread(target=self._run, name="decision-log-writer", daemon=True).start()
                self._pid = os.getpid()
                at_process_end(self._flush_at_exit)  # granian's workers skip atexit
        self._queue.put(row)

    def _run(self) -> None:
        source = self._queue
        while True:
            batch = self._gather(source)
            fields = [row for row in batch if row is not None]
            try:
                rows = _valid(fields)
                if rows:
                    self._write(rows)
            finally:
                if len(fields) < len(batch):  # asked by close_connection()
                    connection.close()
                for _ in batch:
                    source.task_done()

    def _write(self, batch: list[Fields]) -> None:
        """One insert for the batch, tried again until the database takes it. Only rows refused for
        their content (by the database, or a value the JSON encoder cannot write: a caller's programming
        error, never the case for the rows the services build) are given up: a batch holding one is
        written a row at a time, each waiting out an outage as the batch would, so such a row holds up
        neither the batch nor the rows behind it."""
        wait, failures = RETRY_FIRST_SECONDS, 0
        while True:
            try:
                _insert(batch)
            except (IntegrityError, DataError, *UNWRITABLE) as exc:
                if len(batch) > 1:
                    for fields in batch:
                        self._write([fields])
                else:
                    _log_refused(batch[0], exc)
                return
            except Exception as exc:  # noqa: BLE001 - an outage of any kind: keep the rows, try again
                failures += 1
                self.failed.set()
                log.warning("decision log: %d row(s) not written (attempt %d), trying again in %.2f s: %s",
                            len(batch), failures, wait, exc)
                connection.close()  # the next attempt opens a fresh connection (the old one may be dead)
                time.sleep(wait)
                wait = min(wait * 2, RETRY_MAX_SECONDS)
            else:
                if failures:
                    log.warning("decision log: %d row(s) written after %d failed attempt(s)", len(batch), failures)
                return

    def _gather(self, source: queue.Queue[Fields | None]) -> list[Fields | None]:
        """The next batch: wait for a first row, then let more arrive (sleeping, not waking per row)
        until GATHER_SECONDS pass or a flush asks for the write. A full batch already waiting is taken
        at once, so a backlog (rows kept through a database outage) drains as fast as the database
        takes it, not a batch per GATHER_SECONDS."""
        batch = [source.get()]
        if source.qsize() < BATCH - 1:
            self._write_now.wait(GATHER_SECONDS)
        while len(batch) < BATCH:
            try:
                batch.append(source.get_nowait())
            except queue.Empty:
                break
        return batch

    def flush(self, timeout: float = FLUSH_TIMEOUT_SECONDS) -> bool:
        """Write every queued row now and wait until it is written (feedback, end of a process, tests);
        False when the database has not taken them within `timeout` (they stay queued)."""
        if self._pid != os.getpid():
            return True
        with self._lock:
            self._flushes += 1
            self._write_now.set()
        source = self._queue
        end = time.monotonic() + timeout
        try:
            with source.all_tasks_done:
                while source.unfinished_tasks:
                    left = end - time.monotonic()
                    if left <= 0:
                        log.error("decision log: %d row(s) still waiting for the database after %.0f s",
                                  source.unfinished_tasks, timeout)
                        return False
                    source.all_tasks_done.wait(left)
            return True
        finally:
            with self._lock:  # rows queued after the last flush returns gather as usual
                self._flushes -= 1
                if not self._flushes:
                    self._write_now.clear()

    def _flush_at_exit(self) -> None:
        """A graceful stop (SIGTERM to granian or gunicorn) writes what the process still holds."""
        waiting = self._queue.unfinished_tasks if self._pid == os.getpid() else 0
        if waiting:
            log.info("decision log: writing %d queued row(s) before the process exits", waiting)
        self.flush()

    def close_connection(self, timeout: float = FLUSH_TIMEOUT_SECONDS) -> None:
        """Write what is queued, then close the writer's database connection (it opens another for
        the next row), so the database can be dropped or restarted without a session left on it."""
        if self._pid == os.getpid():
            self._queue.put(None)
            self.flush(timeout)


# The columns a queued row fills (all but the id and `created`, the time written), read from the model
# with their defaults and which of them hold JSON, so the insert follows the model's fields.
_FIELDS = [f for f in DecisionLog._meta.concrete_fields if not f.primary_key and f.name != "created"]
_TARGETS = [str(f.column) for f in (*_FIELDS, *(f for f in DecisionLog._meta.concrete_fields if f.name == "created"))]
COLUMNS = tuple(f.name for f in _FIELDS)
JSON_ENCODERS = {f.name: f.encoder for f in _FIELDS if isinstance(f, models.JSONField)}
DEFAULTS: Fields = {f.name: f.get_default() for f in _FIELDS}


def _valid(batch: list[Fields]) -> list[Fields]:
    """The queued fields a row can be made of. Fields naming no column or of the wrong kind (a caller's
    programming error, found by the writer rather than the request) are logged and left out, never retried."""
    rows = []
    for fields in batch:
        unknown = sorted(set(fields) - set(COLUMNS))
        if unknown:
            log.error("decision log: no row can be made of %r: no column %s", sorted(fields), ", ".join(unknown))
        elif not isinstance(fields.get("latency_ms", 0.0), int | float):
            log.error("decision log: no row can be made of %r: latency_ms %r is not a number", sorted(fields),
                      fields["latency_ms"])
        else:
            rows.append(fields)
    return rows


def _log_refused(fields: Fields, exc: Exception) -> None:
    contact = fields.get("contact_id", "")
    if isinstance(exc, UNWRITABLE):
        log.error("decision log: row for contact %r left out: a value is not JSON: %s", contact, exc)
    else:
        log.error("decision log: row for contact %r refused by the database: %s", contact, exc)


def _insert(batch: list[Fields]) -> None:
    """One INSERT of every row, its parameters adapted as the fields would adapt them (JSON for the
    two maps, the backend's form of the time written, which is what `created` has always recorded)."""
    ops = connection.ops
    created = ops.adapt_datetimefield_value(timezone.now())
    params = [[ops.adapt_json_value(value, JSON_ENCODERS[name]) if name in JSON_ENCODERS else value
               for name, value in ((name, fields.get(name, DEFAULTS[name])) for name in COLUMNS)] + [created]
              for fields in batch]
    table = ops.quote_name(DecisionLog._meta.db_table)
    columns = ", ".join(ops.quote_name(column) for column in _TARGETS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(_TARGETS))})",
                           params)


_writer = _Writer()


def write(**fields: Any) -> None:
    """Log one decision: written now, or queued as its fields for the background writer."""
    telemetry.count_decision(fields.get("kind", ""), fields.get("output") or {})
    if async_enabled():
        _writer.submit(fields)
    else:
        DecisionLog(**fields).save()


def flush(timeout: float = FLUSH_TIMEOUT_SECONDS) -> bool:
    return _writer.flush(timeout)


def close_connection() -> None:
    _writer.close_connection()
