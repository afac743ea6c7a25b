"""Stream rows out of CSV, JSON and NDJSON files (local paths or s3:// URLs), numbered from 1.

A row that cannot even be read (an NDJSON line that is not JSON, a line whose bytes are not valid in
the file's encoding) is yielded as a RowError so the caller can quarantine it with where and why, and
carry on with the rest of the file. A file that cannot load at all (empty, no customer column, a
JSON object that wraps no list of events) raises ValueError on its first row: `checked_rows` reads
that row up front, so a run stops before anything is recorded.
"""
from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from apps.ingest.connect_ctr import ctr_rows
from apps.ingest.mapping import Mapping, RowError

FORMATS = ("csv", "json", "ndjson", "ctr")
# Object keys that conventionally hold a list of records ({"events": [...]}, S3/Kinesis {"Records": [...]}).
WRAPPER_KEYS = ("events", "records", "items", "data")
NOTHING = "there is nothing to load"


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


def iter_rows(source: Source, fmt: str, mapping: Mapping | None = None) -> Iterator[tuple[int, Any]]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    mapping = mapping or Mapping()
    text = _Text(source, mapping.encoding)
    return {"csv": _csv_rows, "json": _json_rows, "ndjson": _ndjson_rows, "ctr": _ctr_rows}[fmt](text, mapping)


def checked_rows(source: Source, fmt: str, mapping: Mapping | None = None) -> Iterator[tuple[int, Any]]:
    """iter_rows with its first row already read, so that a file that cannot load raises here."""
    rows = iter_rows(source, fmt, mapping)
    first = next(rows)  # an empty file raises ValueError rather than ending the iteration
    return itertools.chain([first], rows)


class _Text:
    """A source's bytes as text in the chosen encoding. Lines are decoded one by one so that a byte
    that is not valid is reported with its line and byte offset, and costs only its own row."""

    def __init__(self, source: Source, encoding: str) -> None:
        try:
            self.codec = codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown encoding {encoding!r} (Python codec names: utf-8, cp1252, latin-1, "
                             "utf-16, ...)") from None
        self.uri = source.uri
        self.binary = io.BufferedReader(source.stream)
        self.bad_lines: dict[int, str] = {}  # line number → why it could not be decoded

    @property
    def line_by_line(self) -> bool:
        """Encodings where a newline byte is always a newline (UTF-8, cp1252, Latin-1): not UTF-16."""
        return '\n,"'.encode(self.rest) == b'\n,"'

    @property
    def rest(self) -> str:
        """The codec for every line after the first (a byte-order mark can only lead the file)."""
        return "utf-8" if self.codec.name == "utf-8-sig" else self.codec.name

    def lines(self) -> Iterator[str]:
        if not self.line_by_line:
            yield from io.TextIOWrapper(self.binary, encoding=self.codec.name, newline="")
            return
        rest = self.rest
        offset = 0
        for number, raw in enumerate(self.binary, start=1):
            try:
                yield raw.decode(self.codec.name if number == 1 else rest)
            except UnicodeDecodeError as exc:
                self.bad_lines[number] = self.explain(exc, offset, number)
                yield raw.decode(rest, errors="replace")
            offset += len(raw)

    def whole(self) -> str:
        data = self.binary.read()
        try:
            return data.decode(self.codec.name)
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise ValueError(f"{self.uri}: {self.explain(exc, 0, line)}") from None

    def explain(self, exc: UnicodeDecodeError, offset: int, line: int) -> str:
        name = "utf-8" if self.codec.name == "utf-8-sig" else self.codec.name
        other = "cp1252" if name == "utf-8" else "utf-8"
        return (f"byte 0x{exc.object[exc.start]:02x} at byte offset {offset + exc.start} (line {line}) is not "
                f"valid {name}; if the file is in another encoding, run again with --encoding "
                f"(for example --encoding {other})")


def _csv_rows(text: _Text, mapping: Mapping) -> Iterator[tuple[int, Any]]:
    """Rows as dicts keyed by the stripped header; blank lines are skipped, short rows padded with
    None (as csv.DictReader does), long rows reported."""
    reader = csv.reader(text.lines())
    first = next(reader, None)
    if first is None:
        raise ValueError(f"{text.uri} is empty: {NOTHING}")
    header = [name.strip() for name in first]
    mapping.check_header(header, text.uri)
    width = len(header)
    number = 0
    line = reader.line_num
    for fields in reader:
        lines, line = range(line + 1, reader.line_num + 1), reader.line_num
        if not fields:
            continue
        number += 1
        if text.bad_lines and (bad := [text.bad_lines[n] for n in lines if n in text.bad_lines]):
            yield number, RowError(bad[0])
            continue
        if len(fields) > width:
            yield number, RowError(f"row has {len(fields)} fields, header has {width}")
            continue
        if len(fields) < width:
            fields = fields + [None] * (width - len(fields))  # type: ignore[list-item]
        yield number, dict(zip(header, fields, strict=True))
    if number == 0:
        raise ValueError(f"{text.uri} has a header but no rows: {NOTHING}")


def _json_rows(text: _Text, mapping: Mapping) -> Iterator[tuple[int, Any]]:
    body = text.whole()
    if not body.strip():
        raise ValueError(f"{text.uri} is empty: {NOTHING}")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"file is not valid JSON: {exc}") from exc
    rows, under = _unwrapped(data, mapping, text.uri)
    if not rows:
        raise ValueError(f"{text.uri} holds an empty list{under}: {NOTHING}")
    yield from enumerate(rows, start=1)


def _unwrapped(data: Any, mapping: Mapping, uri: str) -> tuple[list[Any], str]:
    """The rows of a JSON document: a list of events, one event, or an object that wraps one list
    of events (`{"events": [...]}`, `{"Records": [...]}`); anything else is refused, naming its keys."""
    if isinstance(data, list):
        return data, ""
    if not isinstance(data, dict) or mapping.describes_event(data):
        return [data], ""
    lists = [key for key, value in data.items() if isinstance(value, list)]
    named = [key for key in lists if key.lower() in WRAPPER_KEYS]
    chosen = named if len(named) == 1 else lists if len(lists) == 1 else []
    if not chosen:
        raise ValueError(
            f"{uri}: the JSON object is neither an event nor a wrapper around one list of events (keys found: "
            f"{', '.join(data) or 'none'}; lists under: {', '.join(lists) or 'none'}). Expected a list of events, "
            'or an object such as {"events": [...]} or {"Records": [...]}')
    return data[chosen[0]], f" under {chosen[0]!r}"


def _ctr_rows(text: _Text, mapping: Mapping) -> Iterator[tuple[int, Any]]:
    """Amazon Connect contact records as Firehose writes them (apps.ingest.connect_ctr)."""
    return ctr_rows(io.StringIO(text.whole()))


def _ndjson_rows(text: _Text, mapping: Mapping) -> Iterator[tuple[int, Any]]:
    seen = False
    for number, line in enumerate(text.lines(), start=1):
        if not line.strip():
            continue
        seen = True
        if number in text.bad_lines:
            yield number, RowError(text.bad_lines[number])
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, RowError(f"line is not valid JSON: {exc.msg} at column {exc.colno}")
    if not seen:
        raise ValueError(f"{text.uri} is empty: {NOTHING}")
