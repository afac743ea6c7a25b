"""The decision log, written off the caller's path when DECISIONS_LOG_ASYNC is on.

A waiting caller should not pay for a database commit: with the flag on, each decision's row goes
to an in-process queue that a background thread writes in batches (bulk insert) as soon as it can,
so the monitor lags by milliseconds. Rows still queued when a process is killed are lost, which is
acceptable for a monitor and is why the flag is off by default (tests and small installs write
synchronously). Set it in settings or in the environment: DECISIONS_LOG_ASYNC=true.
"""
from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from typing import Any

from django.conf import settings

from apps.decisions.models import DecisionLog

log = logging.getLogger(__name__)
BATCH = 500


def async_enabled() -> bool:
    configured = getattr(settings, "DECISIONS_LOG_ASYNC", None)
    if configured is None:
        configured = os.environ.get("DECISIONS_LOG_ASYNC", "").lower() in {"1", "true", "yes", "on"}
    return bool(configured)


class _Writer:
    """One daemon thread per process (started lazily, so after any fork) draining a queue."""

    def __init__(self) -> None:
        self._queue: queue.Queue[DecisionLog] = queue.Queue()
        self._pid: int | None = None
        self._lock = threading.Lock()

    def submit(self, row: DecisionLog) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.Queue()
                threading.Thread(target=self._run, name="decision-log-writer", daemon=True).start()
                self._pid = os.getpid()
        self._queue.put(row)

    def _run(self) -> None:
        source = self._queue
        while True:
            batch = [source.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(source.get_nowait())
                except queue.Empty:
                    break
            try:
                DecisionLog.objects.bulk_create(batch)
            except Exception:  # noqa: BLE001 - the writer must outlive a failed batch
                log.exception("could not write %d decision log rows", len(batch))
            finally:
                for _ in batch:
                    source.task_done()

    def flush(self) -> None:
        """Wait until every queued row is written (end of a process, tests, benchmarks)."""
        if self._pid == os.getpid():
            self._queue.join()


_writer = _Writer()
atexit.register(_writer.flush)


def write(**fields: Any) -> None:
    row = DecisionLog(**fields)
    if async_enabled():
        _writer.submit(row)
    else:
        row.save()


def flush() -> None:
    _writer.flush()
