"""Reading a child process's output in tests that start servers and workers (the production stack,
the job worker): wait for lines with a deadline, never a sleep."""
from __future__ import annotations

import queue
import subprocess
import threading
import time


def _lines_of(process: subprocess.Popen[str]) -> queue.Queue[str]:
    """One reader thread per process hands its output lines over a queue (a select on a buffered pipe
    would miss lines already read into the buffer); "" marks the end of the output."""
    lines: queue.Queue[str] | None = getattr(process, "output_lines", None)
    if lines is None:
        lines = queue.Queue()
        process.output_lines = lines  # type: ignore[attr-defined]
        threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or ()] + [lines.put("")],
                         daemon=True).start()
    return lines


def wait_for(process: subprocess.Popen[str], *needles: str, deadline_s: float = 120) -> list[str]:
    """Read the process's output until every needle has appeared; the lines read on the way."""
    assert process.stdout is not None
    lines = _lines_of(process)
    seen: list[str] = []
    missing = set(needles)
    end = time.monotonic() + deadline_s
    while missing:
        try:
            line = lines.get(timeout=max(end - time.monotonic(), 0.001))
        except queue.Empty:
            raise AssertionError(f"stack not ready, still waiting for {missing}:\n" + "".join(seen[-40:])) from None
        if not line:
            raise AssertionError("stack exited:\n" + "".join(seen[-40:]))
        seen.append(line)
        missing = {n for n in missing if n not in line}
    return seen
