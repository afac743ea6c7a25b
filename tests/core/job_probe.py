"""Job functions for the worker tests: importable by a real worker process."""
from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def wait_at_gate(gate: str) -> str:
    """Log, then block until the test writes to the FIFO `gate` (a worker can be killed while it waits)."""
    log.info("probe waiting at %s", Path(gate).name)
    with open(gate) as fifo:  # opening a FIFO for reading blocks until a writer opens it
        return fifo.read()


def fail_with(message: str) -> None:
    raise RuntimeError(message)


def echo(text: str) -> str:
    log.info("probe says %s", text)
    return text


def refuse() -> None:
    """A recurring job that fails (no arguments, like the declared recurring jobs)."""
    raise RuntimeError("webhook target refused the connection")
