"""The decision log, written off the caller's path when DECISIONS_LOG_ASYNC is on.

A waiting caller should not pay for a database commit: with the flag on, each decision's row goes
to an in-process queue that a background thread writes in batches (one bulk insert). The writer
gathers rows for up to GATHER_SECONDS after the first one arrives, because an insert of one row
costs nearly as much CPU as an insert of fifty, and at hundreds of decisions a second that CPU is
taken from the callers. The monitor lags by at most that long; `flush()` writes at once (feedback
looks up the decision it answers, so it flushes first). Rows still queued when a process is killed
are lost, which is acceptable for a monitor and is why the flag is off by default (tests and small
installs write synchronously). Set it in settings or in the environment: DECISIONS_LOG_ASYNC=true.
"""
from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from typing import Any

from django.conf import settings

from apps.core import observability
from apps.decisions.models import DecisionLog

log = logging.getLogger(__name__)
BATCH = 500
GATHER_SECONDS = 0.25


def async_enabled() -> bool:
    configured = getattr(settings, "DECISIONS_LOG_ASYNC", None)
    if configured is None:
        configured = os.environ.get("DECISIONS_LOG_ASYNC", "").lower() in {"1", "true", "yes", "on"}
    return bool(configured)


class _Writer:
    """One daemon thread per process (started lazily, so after any fork) draining a queue."""

    def __init__(self) -> None:
        self._queue: queue.Queue[DecisionLog] = queue.Queue()
        self._write_now = threading.Event()
        self._pid: int | None = None
        self._lock = threading.Lock()

    def submit(self, row: DecisionLog) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.Queue()
                self._write_now = threading.Event()
                threading.Thread(target=self._run, name="decision-log-writer", daemon=True).start()
                self._pid = os.getpid()
        self._queue.put(row)

    def _run(self) -> None:
        source = self._queue
        while True:
            batch = self._gather(source)
            try:
                DecisionLog.objects.bulk_create(batch)
            except Exception:  # noqa: BLE001 - the writer must outlive a failed batch
                log.exception("could not write %d decision log rows", len(batch))
            finally:
                for _ in batch:
                    source.task_done()

    def _gather(self, source: queue.Queue[DecisionLog]) -> list[DecisionLog]:
        """The next batch: wait for a first row, then let more arrive (sleeping, not waking per row)
        until GATHER_SECONDS pass or a flush asks for the write."""
        batch = [source.get()]
        self._write_now.wait(GATHER_SECONDS)
        self._write_now.clear()
        while len(batch) < BATCH:
            try:
                batch.append(source.get_nowait())
            except queue.Empty:
                break
        return batch

    def flush(self) -> None:
        """Write every queued row now and wait until it is written (feedback, end of a process, tests)."""
        if self._pid == os.getpid():
            self._write_now.set()
            self._queue.join()
            self._write_now.clear()  # rows queued later gather as usual


_writer = _Writer()
atexit.register(_writer.flush)


def write(**fields: Any) -> None:
    row = DecisionLog(**fields)
    observability.record_decision(row.kind, row.output)
    if async_enabled():
        _writer.submit(row)
    else:
        row.save()


def flush() -> None:
    _writer.flush()
