"""Rows to validated event records, chunk by chunk, in this process or in a second one.

Reading and validating rows is pure Python and, in a bulk load, about a quarter of the work that
needs the interpreter lock; the graph write needs the rest. A large local file is therefore read in
a second process that hands over finished chunks (records and the rows it quarantined), so the
two halves run on two cores. Nothing here touches the database or the graph store.
"""
from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any

from apps.ingest.mapping import Mapping, RowError, to_record
from apps.ingest.readers import iter_rows, open_source
from graph.schema import EventRecord

READER_NICENESS = 5


@dataclass
class ParsedChunk:
    """Up to `size` rows: the good ones as records, the bad ones as (row number, reason, raw row)."""

    records: list[EventRecord] = field(default_factory=list)
    bad: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    rows_read: int = 0
    bytes_read: int | None = None


def validated_chunks(rows: Iterator[tuple[int, Any]], mapping: Mapping, *, source: str, size: int,
                     bytes_read: Callable[[], int] | None = None, seq_base: int = 0) -> Iterator[ParsedChunk]:
    """Records carry their arrival order, `seq_base` plus the row number (see `arrival_base`)."""
    chunk = ParsedChunk()
    seen: dict[str, int] = {}  # derived ids so far: identical rows of one input stay distinct events
    for number, row in rows:
        chunk.rows_read += 1
        try:
            if isinstance(row, RowError):
                raise row
            chunk.records.append(to_record(row, mapping, source=source, seq=seq_base + number, seen=seen))
        except RowError as exc:
            chunk.bad.append((number, str(exc)[:500], raw_row(row)))
        except Exception as exc:  # noqa: BLE001 - one unreadable row must never cost the others
            chunk.bad.append((number, f"row cannot be read: {type(exc).__name__}: {exc}"[:500], raw_row(row)))
        if len(chunk.records) + len(chunk.bad) >= size:
            chunk.bytes_read = bytes_read() if bytes_read else None
            yield chunk
            chunk = ParsedChunk()
    if chunk.records or chunk.bad:
        chunk.bytes_read = bytes_read() if bytes_read else None
        yield chunk


def arrival_base(batch_number: int) -> int:
    """The first arrival number of an ingest batch: batches arrive in the order they are numbered,
    rows within one in row order, so `seq` orders every event by arrival across all batches."""
    return batch_number << 32


def raw_row(row: Any) -> dict[str, Any]:
    """A quarantined row as stored with its reason: JSON-safe and storable in any database (no NaN or
    infinities, no NUL characters, no lone surrogates), long values cut."""
    if isinstance(row, dict):
        return {_storable(str(k)): _storable_value(v) for k, v in row.items()}
    return {"value": _storable(str(row)[:1000])}


def _storable_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str | int | float | bool | type(None)):
        return _storable(value) if isinstance(value, str) else value
    return _storable(str(value)[:1000])


def _storable(text: str) -> str:
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def chunks_from_second_process(path: str, fmt: str, mapping: Mapping, *, source: str, size: int,
                               phone_region: str, seq_base: int = 0) -> Iterator[ParsedChunk]:
    """The chunks of a local file, read and validated by a second process (started fresh, not
    forked: this process may run threads). The pipe between them holds only a few chunks, so the
    reader never runs far ahead. A failure there is raised here; stopping early stops it."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    mapping = replace(mapping, phone_region=mapping.phone_region or phone_region)  # no settings over there
    process = context.Process(target=_read_in_process, args=(sender, path, fmt, mapping, source, size, seq_base),
                              name="journeyhub-ingest-reader", daemon=True)
    process.start()
    sender.close()
    try:
        yield from _received(receiver, process, path)
    finally:
        receiver.close()
        if process.is_alive():
            process.terminate()
        process.join()


def _received(receiver: Connection, process: Any, path: str) -> Iterator[ParsedChunk]:
    while True:
        try:
            kind, value = receiver.recv()
        except EOFError:
            process.join(timeout=5)
            raise RuntimeError(f"the process reading {path} stopped unexpectedly (exit code "
                               f"{process.exitcode})") from None
        if kind == "error":
            raise value
        if kind == "done":
            return
        yield value


def _read_in_process(sender: Connection, path: str, fmt: str, mapping: Mapping, source: str, size: int,
                     seq_base: int = 0) -> None:
    """The second process's whole life: read, validate, hand over, report how it ended. It runs at
    a lower priority: it is far enough ahead that the graph engine and the writer should come first
    when they compete for a core."""
    try:
        os.nice(READER_NICENESS)
        opened = open_source(path)
        with opened.stream:
            for chunk in validated_chunks(iter_rows(opened, fmt, mapping), mapping, source=source, size=size,
                                          bytes_read=lambda: opened.stream.count, seq_base=seq_base):
                sender.send(("chunk", chunk))
        sender.send(("done", None))
    except BaseException as exc:  # noqa: BLE001 - handed to the loading process, which raises it
        try:
            sender.send(("error", exc))
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled goes over as text
            sender.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        sender.close()
