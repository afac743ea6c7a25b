"""The benchmarks' open-loop load generator against a real HTTP server on loopback: every request is
answered, paired with its own answer and timed, with the generator's lateness recorded per request; and
its kernel timer wakes at the due time, never before (on the wrong clock it would fire at once)."""
from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import openloop  # noqa: E402 - the benchmarks folder is not a package


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the generator expects

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = 200 if body == b'{"n": "even"}' else 422
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _call(n: int) -> openloop.Call:
    return openloop.Call("POST", f"/r/{n % 3}", b'{"n": "even"}' if n % 2 == 0 else b'{"n": "odd"}')


def test_every_request_is_answered_with_its_own_answer_and_timed(port: int) -> None:
    outcome = openloop.run(port, {"Content-Type": "application/json"}, _call, rate=400, seconds=0.5, connections=4)

    assert len(outcome.results) == 200
    assert sorted(status for _, _, status in outcome.results) == [200] * 100 + [422] * 100
    assert sorted(path for path, _, _ in outcome.results) == sorted(f"/r/{n % 3}" for n in range(200))
    assert len(outcome.late_s) == 200
    assert outcome.timer == ("timerfd" if sys.platform.startswith("linux") else "event loop (1 ms ticks)")


def test_the_kernel_timer_wakes_at_the_due_time_and_not_before() -> None:
    async def wait() -> tuple[float, float]:
        timer = openloop._KernelTimer.open(asyncio.get_running_loop())
        assert timer is not None
        due = time.perf_counter() + 0.02
        await timer.until(due, time.perf_counter())
        woke = time.perf_counter()
        timer.close()
        return due, woke

    due, woke = asyncio.run(wait())
    assert woke >= due
