"""What a long-lived process (the web workers, graphserver) sets up once for its whole life, and its end.

A web process holds about 190,000 container objects from imports alone (Django, the apps, DRF,
drf-spectacular, pandas, scikit-learn, gremlinpython), and every full collection walks all of them
while holding the GIL. Under a few hundred requests a second that is a pause of 0.1–0.2 s every few
seconds, which every request in flight waits out: the slowest percent of decision calls. Importing the
URLconf (every view) first and then freezing leaves the collector only what requests create.
"""
from __future__ import annotations

import gc
import logging
import os
import sys
import threading
from collections.abc import Callable
from multiprocessing import util as multiprocessing_util

from django.core.exceptions import ImproperlyConfigured

SWITCH_INTERVAL_VARIABLE = "WEB_SWITCH_INTERVAL_MS"
DEFAULT_SWITCH_INTERVAL_MS = 0.5


def freeze_loaded_objects() -> int:
    """Import every view, then exempt everything loaded so far from collection; how many objects that is."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the URLconf and with it every view
    gc.collect()  # what is already garbage goes now, not never
    gc.freeze()
    return gc.get_freeze_count()


def shorten_switch_interval() -> float:
    """Let a thread that waits for the GIL have it sooner; the interval set, in seconds.

    A decision's graph read releases the GIL while the engine runs it; to go on, the request's thread
    must get the GIL back, and a thread holding it is asked to let go only every switch interval (5 ms
    by default). With a few requests in flight each read could so add up to 5 ms of waiting: in one
    process with four threads calling decisions back to back, 0.5 ms took the median from 10.4 ms to
    1.9-3.5 ms and the CPU per decision down by about 15 % (fewer waits spinning on the GIL). Set
    WEB_SWITCH_INTERVAL_MS to change it."""
    raw = os.environ.get(SWITCH_INTERVAL_VARIABLE, "") or str(DEFAULT_SWITCH_INTERVAL_MS)
    try:
        milliseconds = float(raw)
    except ValueError:
        milliseconds = -1.0
    if not 0 < milliseconds <= 100:
        raise ImproperlyConfigured(f"{SWITCH_INTERVAL_VARIABLE}={raw!r}: give milliseconds between 0 and 100, e.g. 0.5")
    sys.setswitchinterval(milliseconds / 1000)
    return sys.getswitchinterval()


CPU_WAKE_LATENCY_VARIABLE = "CPU_WAKE_LATENCY_US"
CPU_LATENCY_DEVICE = "/dev/cpu_dma_latency"
_held: list[int] = []  # the open device: Linux keeps a process's request while its file stays open


def hold_cpu_wake_latency(device: str = CPU_LATENCY_DEVICE) -> int | None:
    """Ask Linux (PM QoS) to keep every CPU able to wake within CPU_WAKE_LATENCY_US microseconds for as
    long as this process lives; the latency asked for, or None when not set or not granted.

    At a contact centre's steady rate the CPUs idle between requests, and a decision wakes threads
    that sleep: the web server's, Django's, the graph engine's. On a virtual machine an idle CPU halts,
    and waking it costs a tenth of a millisecond or more each time (a bare engine call every 4 ms: 190–230
    µs at the median, 80 µs with the CPUs kept awake). With 0 the idle CPUs poll instead of halting:
    wake-ups become microseconds, at the price of CPUs that never rest (power; on a shared host, time
    other guests could use). So it is off unless set, for hosts that serve decisions. Writing the
    device needs root or a grant on it; without one the hub serves as usual and says so in the log."""
    raw = os.environ.get(CPU_WAKE_LATENCY_VARIABLE, "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) >= 2**31:
        raise ImproperlyConfigured(f"{CPU_WAKE_LATENCY_VARIABLE}={raw!r}: give whole microseconds, 0 or more "
                                   "(0 keeps idle CPUs polling), or leave it unset")
    microseconds = int(raw)
    try:
        held = os.open(device, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(held, microseconds.to_bytes(4, sys.byteorder, signed=True))
        except OSError:
            os.close(held)
            raise
    except OSError as exc:
        logging.getLogger(__name__).warning(
            "%s=%d not applied: cannot write %s (%s); run the process as root or grant it write access to the "
            "device", CPU_WAKE_LATENCY_VARIABLE, microseconds, device, exc.strerror or exc)
        return None
    _held.append(held)
    logging.getLogger(__name__).info("%s=%d held: CPUs kept able to wake within it while this process runs",
                                     CPU_WAKE_LATENCY_VARIABLE, microseconds)
    return microseconds


_at_end: set[tuple[int, Callable[[], object]]] = set()
_at_end_lock = threading.Lock()


def at_process_end(function: Callable[[], object]) -> None:
    """Run `function` as this process ends normally, a graceful stop (SIGTERM) included.

    atexit alone misses the processes that need it most: granian's workers are multiprocessing children
    (forked), and such a child ends through `os._exit`, which skips atexit. multiprocessing's exit hooks
    run there as the child returns, and through atexit in every other process. A multiprocessing child
    drops the hooks it inherited, so a process registers its own the first time it asks (from where its
    thread starts, say); asking again in the same process adds nothing."""
    key = (os.getpid(), function)
    with _at_end_lock:
        if key in _at_end:
            return
        _at_end.add(key)
    multiprocessing_util.Finalize(None, function, exitpriority=10)
