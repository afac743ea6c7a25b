"""An open-loop HTTP/1.1 load generator light enough to share the machine with the server it measures.

Requests are scheduled at a fixed rate and latency counts from each request's scheduled time, so a
server that falls behind cannot hide its queue. One asyncio loop drives every connection (keep-alive,
requests written and responses parsed by hand): a thread per connection with `http.client` costs
several times the CPU per request, and on a 2-core machine that CPU is taken from the server.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


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


def run(port: int, headers: dict[str, str], calls: Callable[[int], Call], *, rate: float, seconds: float,
        connections: int) -> Outcome:
    """Send `calls(n)` for n < rate*seconds, request n at start + n/rate, over up to `connections`
    keep-alive connections to 127.0.0.1:port."""
    cpu = time.process_time()
    outcome = asyncio.run(_run(port, headers, calls, int(rate * seconds), rate, connections))
    outcome.client_cpu_s = time.process_time() - cpu
    return outcome


async def _run(port: int, headers: dict[str, str], calls: Callable[[int], Call], total: int, rate: float,
               connections: int) -> Outcome:
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await _Connection.open(port))
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"127.0.0.1:{port}", **headers}.items())
    outcome = Outcome()
    start = time.perf_counter() + 0.2
    tasks = []
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_send(idle, port, head, calls(n), due, outcome)))
    await asyncio.gather(*tasks)
    outcome.elapsed_s = time.perf_counter() - start
    while not idle.empty():
        idle.get_nowait().close()
    return outcome


async def _send(idle: asyncio.Queue[_Connection], port: int, head: str, call: Call, due: float,
                outcome: Outcome) -> None:
    connection = await idle.get()
    status, keep = 0, False
    try:
        status, keep = await connection.exchange(call, head)
    except (OSError, ValueError, asyncio.IncompleteReadError):
        pass
    outcome.results.append((call.path, (time.perf_counter() - due) * 1000, status))
    if not keep:
        connection.close()
        connection = await _Connection.open(port)
    idle.put_nowait(connection)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> _Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def exchange(self, call: Call, head: str) -> tuple[int, bool]:
        """Write one request and read its whole response (Content-Length or chunked): its status, and
        whether the server keeps the connection open."""
        length = f"Content-Length: {len(call.body)}\r\n" if call.body or call.method == "POST" else ""
        self.writer.write(f"{call.method} {call.path} HTTP/1.1\r\n{head}{length}\r\n".encode() + call.body)
        lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in fields:
            await self.reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            await self._chunks()
        return int(lines[0].split()[1]), fields.get("connection", "").lower() != "close"

    async def _chunks(self) -> None:
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await self.reader.readexactly(size + 2)
        await self.reader.readuntil(b"\r\n")

    def close(self) -> None:
        self.writer.close()
