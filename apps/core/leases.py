"""Named leases in the database: a lock that every process sharing the database sees, on any machine.

A file lock serves the processes of one machine. Writers of an S3 event store may run on several, and
what they share is the database. A lease is a row (`Lease`: name, holder, expiry). Taking it is one
UPDATE of the row whose lease has expired, or one INSERT when there is no row; only one of two
processes racing for it changes a row. Letting go deletes the holder's row. While its holder works, a
thread of the holder's moves the expiry to `ttl` from then every `ttl / 3`, so work may take as long
as it needs; a holder that dies stops renewing, and its row is free `ttl` after its last renewal, so
nobody waits on a dead process for longer than that.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from apps.core.models import Lease

log = logging.getLogger(__name__)


class LeaseLost(RuntimeError):
    """The lease expired and was taken by another holder before its work was done: the work ran, but
    not alone, and whatever it guards should be checked."""


@contextmanager
def held(name: str, *, ttl: float, wait: float, busy: Callable[[Lease | None], Exception]) -> Iterator[Renewal]:
    """Hold the lease `name` meanwhile, renewed while the work runs. Waits up to `wait` seconds for its
    holder to let go (or for its lease to expire), then raises `busy(lease)`: the caller's error, saying
    what was not done and, from the lease row (None if it was let go just then), who holds it until
    when. Work that finishes after its lease was lost to another holder raises LeaseLost."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"
    if not wait_until(lambda: take(name, holder, ttl), wait):
        raise busy(Lease.objects.filter(name=name).first())
    renewal = Renewal(name, holder, ttl)
    # inside an open transaction the lease row is not committed: nobody else sees it until then, and a
    # renewal on another connection would wait for this one's transaction
    if not connection.in_atomic_block:
        renewal.start()
    try:
        yield renewal
    finally:
        renewal.stop()
        kept, _ = Lease.objects.filter(name=name, holder=holder).delete()
    if not kept:  # another holder has the row (a renewal that found it so stopped renewing)
        raise LeaseLost(f"lease {name!r} expired and was taken by another holder before its work was done "
                        f"(not renewed for {ttl:g} s): the work ran, but not alone")


def wait_until(attempt: Callable[[], bool], wait: float) -> bool:
    """Try `attempt` until it succeeds or `wait` seconds have passed (at least once), pausing 5 ms
    at first and twice as long each time up to a quarter second: a lock let go soon is taken soon, one
    held long is not polled hard. False when it never succeeded."""
    deadline = time.monotonic() + wait
    pause = 0.005
    while not attempt():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.25)
    return True


def take(name: str, holder: str, ttl: float) -> bool:
    """One try: True when `holder` now holds `name` for `ttl` seconds."""
    now = timezone.now()
    until = now + timedelta(seconds=ttl)
    with transaction.atomic():
        if Lease.objects.filter(name=name, expires__lte=now).update(holder=holder, taken=now, expires=until):
            return True
        try:
            with transaction.atomic():
                Lease.objects.create(name=name, holder=holder, taken=now, expires=until)
        except IntegrityError:
            return False
        return True


def renew(name: str, holder: str, ttl: float) -> bool:
    """Move the expiry of `holder`'s lease to `ttl` from now. False when the lease is no longer theirs."""
    return bool(Lease.objects.filter(name=name, holder=holder).update(expires=timezone.now() + timedelta(seconds=ttl)))


class Renewal:
    """The thread that keeps a held lease from expiring: every `ttl / 3` on a database connection of
    its own. A renewal the database refuses is tried again at the next turn (two more before the lease
    can expire); a lease found taken by another holder is lost, and renewing stops."""

    def __init__(self, name: str, holder: str, ttl: float) -> None:
        self.name, self.holder, self.ttl = name, holder, ttl
        self.renewals = 0
        self.lost = False
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"lease {name}"[:60], daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def renewing(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def wait_for(self, renewals: int, timeout: float) -> bool:
        """True once the lease has been renewed `renewals` times (or was lost), False after `timeout` s."""
        with self._changed:
            return self._changed.wait_for(lambda: self.renewals >= renewals or self.lost, timeout)

    def _run(self) -> None:
        try:
            while not self._stopping.wait(self.ttl / 3):
                if not self._renew_once():
                    return
        finally:
            connection.close()  # this thread's own connection

    def _renew_once(self) -> bool:
        try:
            kept = renew(self.name, self.holder, self.ttl)
        except DatabaseError as exc:
            log.warning("lease %r not renewed, trying again in %.0f s: %s", self.name, self.ttl / 3, exc)
            return True
        with self._changed:
            if kept:
                self.renewals += 1
            else:
                self.lost = True
                log.error("lease %r expired and was taken by another holder while its work went on", self.name)
            self._changed.notify_all()
        return kept
