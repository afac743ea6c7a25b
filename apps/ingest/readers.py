"""Stream rows out of CSV, JSON and NDJSON files (local paths or s3:// URLs), numbered from 1.

A row that cannot even be read (an NDJSON line that is not JSON) is yielded as a RowError so the
caller can quarantine it and carry on with the rest of the file.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from apps.ingest.connect_ctr import ctr_rows
from apps.ingest.mapping import RowError

FORMATS = ("csv", "json", "ndjson", "ctr")


class CountingReader(io.RawIOBase):
    """Wraps a binary stream and counts bytes, so long imports can show how far they are."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


@dataclass
class Source:
    uri: str
    size: int | None
    stream: CountingReader


def open_source(uri: str) -> Source:
    if uri.startswith("s3://"):
        from apps.core import storage

        stream, size = storage.open_uri(uri)
        return Source(uri=uri, size=size, stream=CountingReader(stream))
    path = Path(uri)
    if not path.is_file():
        raise FileNotFoundError(f"input file not found: {uri}")
    return Source(uri=str(path), size=path.stat().st_size, stream=CountingReader(path.open("rb")))


def iter_rows(source: Source, fmt: str) -> Iterator[tuple[int, Any]]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    text = io.TextIOWrapper(io.BufferedReader(source.stream), encoding="utf-8-sig", newline="")
    return {"csv": _csv_rows, "json": _json_rows, "ndjson": _ndjson_rows, "ctr": ctr_rows}[fmt](text)


def _csv_rows(text: IO[str]) -> Iterator[tuple[int, Any]]:
    """Rows as dicts keyed by the stripped header; blank lines are skipped, short rows padded with
    None (as csv.DictReader does), long rows reported."""
    reader = csv.reader(text)
    header = [name.strip() for name in next(reader, [])]
    width = len(header)
    number = 0
    for fields in reader:
        if not fields:
            continue
        number += 1
        if len(fields) > width:
            yield number, RowError(f"row has {len(fields)} fields, header has {width}")
            continue
        if len(fields) < width:
            fields = fields + [None] * (width - len(fields))  # type: ignore[list-item]
        yield number, dict(zip(header, fields, strict=True))


def _json_rows(text: IO[str]) -> Iterator[tuple[int, Any]]:
    try:
        data = json.load(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"file is not valid JSON: {exc}") from exc
    rows = data if isinstance(data, list) else data.get("records", [data]) if isinstance(data, dict) else [data]
    yield from enumerate(rows, start=1)


def _ndjson_rows(text: IO[str]) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, RowError(f"line is not valid JSON: {exc.msg} at column {exc.colno}")

