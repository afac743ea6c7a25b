"""Named leases in the database: a lock that every process sharing the database sees, on any machine.

A file lock serves the processes of one machine. Writers of an S3 event store may run on several, and
what they share is the database. A lease is a row (`Lease`: name, holder, expiry). Taking it is one
UPDATE of the row whose lease has expired, or one INSERT when there is no row; only one of two
processes racing for it changes a row. Letting go deletes the holder's row. A holder that dies leaves
its row behind until it expires (`ttl`), so nobody waits on a dead process for longer than that; a
live holder must finish within `ttl`, so choose it above the longest piece of work it guards.
"""
from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.models import Lease


@contextmanager
def held(name: str, *, ttl: float, wait: float, busy: Callable[[Lease | None], Exception]) -> Iterator[None]:
    """Hold the lease `name` meanwhile. Waits up to `wait` seconds for its holder to let go (or for its
    lease to expire), then raises `busy(lease)`: the caller's error, saying what was not done and, from
    the lease row (None if it was let go just then), who holds it until when."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + wait
    pause = 0.005
    while not take(name, holder, ttl):
        left = deadline - time.monotonic()
        if left <= 0:
            raise busy(Lease.objects.filter(name=name).first())
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.25)
    try:
        yield
    finally:
        Lease.objects.filter(name=name, holder=holder).delete()


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

