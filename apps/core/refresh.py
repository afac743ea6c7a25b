"""Values a request needs from the database, re-read off the request's path once they are stale.

Decisions keep their configuration (thresholds, rules) and active models in process and re-check
them every second or so. Checked on the request's thread, that put a database query into a few
callers' decisions every second (the slowest percent of them at a few hundred a second), and a model
activation into one caller's decision for as long as the new model took to load. With
`REFRESH_IN_BACKGROUND` on (the default; the test settings turn it off so a test's transaction sees
its own rows), a stale value is answered as it is while one thread per process reads the new one;
only a value never read yet is read on the request's thread. A value dropped while its re-read was
under way (an edit in this process clears it) is not brought back by that re-read.

The thread keeps its database connection from one re-read to the next: a few re-reads a second, each
opening a connection of its own, cost as much again as the queries (and on PostgreSQL a new server
process each). A kept connection can go bad between re-reads (the database restarted, a proxy or the
server closed it while idle): a re-read that fails on a database error is therefore run once more on
a fresh connection, and only a second failure is logged. Any failure closes the thread's connections,
so the next re-read starts on a fresh one.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Hashable

from django.conf import settings
from django.db import DatabaseError, connections

log = logging.getLogger(__name__)
Job = Callable[[], object]


def in_background() -> bool:
    return bool(getattr(settings, "REFRESH_IN_BACKGROUND", True))


class Refresher:
    """One daemon thread per process (started lazily, so after any fork) running re-reads in turn;
    a key already waiting or being re-read is not queued again."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Hashable, Job]] = queue.Queue()
        self._pending: set[Hashable] = set()
        self._lock = threading.Lock()
        self._pid: int | None = None

    def request(self, key: Hashable, job: Job) -> None:
        with self._lock:
            if key in self._pending and self._pid == os.getpid():
                return
            if self._pid != os.getpid():
                self._queue, self._pending = queue.Queue(), set()
                threading.Thread(target=self._run, args=(self._queue,), name="refresh-ahead", daemon=True).start()
                self._pid = os.getpid()
            self._pending.add(key)
            self._queue.put((key, job))

    def _run(self, jobs: queue.Queue[tuple[Hashable, Job]]) -> None:
        while True:
            key, job = jobs.get()
            try:
                _run_on_a_live_connection(job)
            except Exception:  # noqa: BLE001 - the stale value stays; the next request asks again
                log.warning("refreshing %r failed; the value in use is kept", key, exc_info=True)
                connections.close_all()  # this thread's: the next re-read opens a fresh one
            finally:
                with self._lock:
                    self._pending.discard(key)
                jobs.task_done()

    def wait(self) -> None:
        """Until every re-read asked for so far has run (tests, and a process about to stop)."""
        if self._pid == os.getpid():
            self._queue.join()

    def close(self) -> None:
        """Close the thread's database connection once the re-reads asked for so far have run (a test
        about to drop its database; a process about to stop)."""
        if self._pid == os.getpid():
            self.request(("close connections",), connections.close_all)
            self.wait()


def _run_on_a_live_connection(job: Job) -> None:
    """Run a re-read; one that fails on a database error runs again on a fresh connection, since the
    kept one may have died while idle (re-reads only read, or write a value that may be written twice)."""
    try:
        job()
    except DatabaseError:
        connections.close_all()
        job()


refresher = Refresher()


class Clears:
    """How many times a cache of re-read values was cleared. A re-read notes `count` when it is asked
    for and stores what it read only if no clear came since: an edit in this process clears the cache,
    and a re-read that began before the edit must not bring the old value back."""

    def __init__(self) -> None:
        self.count = 0

    def clear(self) -> None:
        self.count += 1

    def since(self, seen: int) -> bool:
        return self.count != seen
