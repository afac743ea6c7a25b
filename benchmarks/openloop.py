"""An open-loop HTTP/1.1 load generator light enough to share the machine with the server it measures.

Requests are scheduled at a fixed rate and latency counts from each request's scheduled time, so a
server that falls behind cannot hide its queue. On a 2-core machine every millisecond of CPU the
generator spends is taken from the server, so it does as little as it can while the clock runs:

- every request's bytes are built before the first is sent (the calls are known in advance);
- one event loop (uvloop when installed, else asyncio's) drives all keep-alive connections through
  a plain `asyncio.Protocol`: no stream reader or writer, no task or future per request;
- the scheduler wakes at the next due time and hands every request due by then to an idle
  connection, or queues it in schedule order until one is free (its latency still counts from its
  scheduled time). On Linux the wake-up is a kernel timer (timerfd) set to the due time itself and
  watched by the event loop: the loop's own timers, like epoll's timeout, count whole milliseconds, and
  waking on them sent requests 0.6 ms late at the median and 1.3-1.7 ms late at p99, which every
  latency then counted as the server's. Elsewhere the loop's timers are used (at least one tick);
- how late the generator sent each request (its own share of every latency) is reported with the
  latencies (`send_lateness_ms`);
- a response is read only as far as its status, length and `Connection: close`.

Measured on the 2-core machine at 1,000 requests/s: 0.10-0.13 ms of CPU per request, against 0.45 ms for the
stream-and-task version before it (benchmarks/README.md, "Contact-centre decisions").
"""
from __future__ import annotations

import asyncio
import ctypes
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

try:
    import uvloop
except ImportError:  # pragma: no cover - asyncio's own loop measures the same, at more CPU per request
    uvloop = None

RECONNECT_PAUSE_S = 0.05
TIMER_TICK_S = 0.001


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: bytes = b""


@dataclass
class Outcome:
    """Per call: its path, latency from the scheduled time (ms) and HTTP status (0: no answer)."""

    results: list[tuple[str, float, int]] = field(default_factory=list)
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0
    loop: str = ""
    timer: str = ""
    late_s: list[float] = field(default_factory=list)  # per request: handed on (or queued) minus due time


def run(port: int, headers: dict[str, str], calls: Callable[[int], Call], *, rate: float, seconds: float,
        connections: int) -> Outcome:
    """Send `calls(n)` for n < rate*seconds, request n at start + n/rate, over up to `connections`
    keep-alive connections to 127.0.0.1:port. The requests are built first; `client_cpu_s` is the
    generator's CPU while they are sent and answered."""
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"127.0.0.1:{port}", **headers}.items())
    requests = [_request_bytes(calls(n), head) for n in range(int(rate * seconds))]
    cpu = time.process_time()
    outcome = _loop_runner()(_run(port, requests, rate, connections))
    outcome.client_cpu_s = time.process_time() - cpu
    outcome.loop = "uvloop" if uvloop is not None else "asyncio"
    return outcome


def _loop_runner() -> Callable[[Coroutine[Any, Any, Outcome]], Outcome]:
    return uvloop.run if uvloop is not None else asyncio.run


def _request_bytes(call: Call, head: str) -> tuple[str, bytes]:
    length = f"Content-Length: {len(call.body)}\r\n" if call.body or call.method == "POST" else ""
    return call.path, f"{call.method} {call.path} HTTP/1.1\r\n{head}{length}\r\n".encode() + call.body


async def _run(port: int, requests: list[tuple[str, bytes]], rate: float, connections: int) -> Outcome:
    pool = _Pool(port, len(requests))
    for _ in range(connections):
        pool.idle.append(await pool.open())
    timer = _KernelTimer.open(pool.loop) or _LoopTimer()
    start = time.perf_counter() + 0.2
    n, total = 0, len(requests)
    try:
        while n < total:
            now = time.perf_counter()
            due = start + n / rate
            if due > now:
                await timer.until(due, now)
                continue
            while n < total and due <= now:  # everything due by now, in schedule order
                pool.submit(*requests[n], due, now)
                n += 1
                due = start + n / rate
        await pool.finished
    finally:
        timer.close()
    pool.outcome.elapsed_s = time.perf_counter() - start
    pool.outcome.timer = timer.name
    pool.close()
    return pool.outcome


class _LoopTimer:
    """The event loop's own timers: whole milliseconds (a shorter sleep would spin the loop)."""

    name = "event loop (1 ms ticks)"

    async def until(self, due: float, now: float) -> None:
        await asyncio.sleep(max(due - now, TIMER_TICK_S))

    def close(self) -> None:
        pass


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


CLOCK_MONOTONIC, TFD_TIMER_ABSTIME = 1, 1
TFD_NONBLOCK, TFD_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC


class _KernelTimer:
    """A Linux timerfd on CLOCK_MONOTONIC (time.perf_counter's clock there), armed for the due time
    itself and watched by the event loop: the loop wakes when the kernel timer fires, to the tens of
    microseconds, without spinning."""

    name = "timerfd"

    def __init__(self, loop: asyncio.AbstractEventLoop, libc: ctypes.CDLL, fd: int) -> None:
        self.loop, self.libc, self.fd = loop, libc, fd
        self.waiter: asyncio.Future[None] | None = None
        loop.add_reader(fd, self._fired)

    @classmethod
    def open(cls, loop: asyncio.AbstractEventLoop) -> _KernelTimer | None:
        """The timer, or None where there is none (not Linux, or perf_counter on another clock)."""
        clock = time.get_clock_info("perf_counter").implementation
        if not sys.platform.startswith("linux") or "CLOCK_MONOTONIC" not in clock:
            return None
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        return cls(loop, libc, fd) if fd >= 0 else None

    async def until(self, due: float, now: float) -> None:
        seconds = int(due)
        spec = _Itimerspec(_Timespec(0, 0), _Timespec(seconds, int((due - seconds) * 1e9)))
        if self.libc.timerfd_settime(self.fd, TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        self.waiter = self.loop.create_future()
        await self.waiter

    def _fired(self) -> None:
        try:
            os.read(self.fd, 8)
        except BlockingIOError:
            return
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def close(self) -> None:
        self.loop.remove_reader(self.fd)
        os.close(self.fd)


class _Pool:
    """Idle connections and the requests waiting for one; records each answer as it completes."""

    def __init__(self, port: int, total: int) -> None:
        self.port, self.left = port, total
        self.loop = asyncio.get_running_loop()
        self.idle: deque[_Connection] = deque()
        self.waiting: deque[tuple[str, bytes, float]] = deque()
        self.outcome = Outcome()
        self.finished: asyncio.Future[None] = self.loop.create_future()
        self.everyone: set[_Connection] = set()
        if total == 0:
            self.finished.set_result(None)

    async def open(self) -> _Connection:
        _, connection = await self.loop.create_connection(lambda: _Connection(self), "127.0.0.1", self.port)
        self.everyone.add(connection)
        return connection

    def submit(self, path: str, data: bytes, due: float, now: float) -> None:
        self.outcome.late_s.append(now - due)
        if self.idle:
            self.idle.pop().send(path, data, due)
        else:
            self.waiting.append((path, data, due))

    def done(self, connection: _Connection, path: str, due: float, status: int, reusable: bool) -> None:
        self.outcome.results.append((path, (time.perf_counter() - due) * 1000, status))
        self.left -= 1
        if self.left == 0 and not self.finished.done():
            self.finished.set_result(None)
        if reusable:
            self.ready(connection)
        else:
            connection.close()
            self.everyone.discard(connection)
            self.loop.create_task(self._replace())

    def lost_idle(self, connection: _Connection) -> None:
        """An idle connection the server closed (a keep-alive timeout): never written to again, and
        replaced while requests are left."""
        if connection in self.idle:
            self.idle.remove(connection)
            self.everyone.discard(connection)
            if self.left:
                self.loop.create_task(self._replace())

    def ready(self, connection: _Connection) -> None:
        if self.waiting:
            connection.send(*self.waiting.popleft())
        else:
            self.idle.append(connection)

    async def _replace(self) -> None:
        """A new connection for one the server closed; while none can be opened, the oldest waiting
        request is counted as unanswered (status 0), so a server that is gone ends the run."""
        while self.left:
            try:
                connection = await self.open()
            except OSError:
                if self.waiting:
                    path, _, due = self.waiting.popleft()
                    self.outcome.results.append((path, (time.perf_counter() - due) * 1000, 0))
                    self.left -= 1
                    if self.left == 0 and not self.finished.done():
                        self.finished.set_result(None)
                await asyncio.sleep(RECONNECT_PAUSE_S)
                continue
            self.ready(connection)
            return

    def close(self) -> None:
        for connection in self.everyone:
            connection.close()


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.current: tuple[str, float] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, path: str, data: bytes, due: float) -> None:
        self.current = (path, due)
        assert self.transport is not None
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.current is None:
            return
        answer = response_size(self.buffer)
        if answer is None:
            return
        status, size, keep = answer
        del self.buffer[:size]
        (path, due), self.current = self.current, None
        self.pool.done(self, path, due, status, keep)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.current is not None:
            (path, due), self.current = self.current, None
            self.pool.done(self, path, due, 0, False)
        else:
            self.pool.lost_idle(self)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def response_size(buffer: bytes | bytearray) -> tuple[int, int, bool] | None:
    """(status, bytes the whole response takes, whether the connection stays open) of the response at
    the start of `buffer`, or None while it is incomplete. Content-Length or chunked bodies; a response
    with neither has none (what Django and both servers send for these requests)."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).lower()
    status = int(head[9:12])
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        line_end = head.find(b"\r\n", at + 2)
        size = end + 4 + int(head[at + 17:line_end if line_end >= 0 else len(head)])
    elif b"\r\ntransfer-encoding: chunked" in head:
        chunked = _chunked_end(buffer, end + 4)
        if chunked is None:
            return None
        size = chunked
    else:
        size = end + 4
    if len(buffer) < size:
        return None
    return status, size, b"\r\nconnection: close" not in head


def _chunked_end(buffer: bytes | bytearray, at: int) -> int | None:
    """Where a chunked body starting at `at` ends (no trailers), or None while it is incomplete."""
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
        at = line_end + 2 + size + 2
        if size == 0:
            return at if len(buffer) >= at else None
        if len(buffer) < at:
            return None
