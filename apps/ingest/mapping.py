"""Column mapping and row validation: raw rows in, EventRecords or a reason out.

With no mapping file, the columns customer_id, event_id, event_type, channel, timestamp, phone,
email, account_id (and intent, outcome) are recognised and every other column becomes an event
attribute. A mapping file renames columns (dotted paths reach into JSON objects), sets defaults and
tells how to read times.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import yaml
from django.conf import settings

from graph.schema import EventRecord

FIELDS = ("customer_id", "event_id", "event_type", "channel", "timestamp", "phone", "email", "account_id",
          "intent", "outcome")
IDENTIFIER_FIELDS = {"phone": "phone", "email": "email", "account_id": "account"}
EPOCH_MS_THRESHOLD = 100_000_000_000  # numbers above this are milliseconds (year 5138 in seconds)
# Event times the hub accepts: analytics hold times as 64-bit nanoseconds (up to 2262), and nothing
# the hub records happened before 1970; anything outside is a unit or format mistake.
MIN_TS_MS = 0
MAX_TS_MS = int(datetime(2200, 1, 1, tzinfo=UTC).timestamp() * 1000)


class RowError(ValueError):
    """A row that cannot become an event; the message is the quarantine reason."""


@dataclass(frozen=True)
class Mapping:
    columns: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    identifiers: dict[str, str] = field(default_factory=dict)
    timestamp_format: str = "auto"
    timestamp_unit: str = "auto"
    timezone: str | None = None
    phone_region: str | None = None
    attributes: str | list[str] = "rest"
    encoding: str = "utf-8-sig"  # of the file's text; a leading byte-order mark is skipped

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mapping:
        unknown = set(data) - {"columns", "defaults", "identifiers", "timestamp", "phone_region", "attributes",
                               "encoding"}
        if unknown:
            raise ValueError(f"mapping: unknown keys {sorted(unknown)}")
        columns = data.get("columns") or {}
        bad = set(columns) - set(FIELDS)
        if bad:
            raise ValueError(f"mapping: columns may only name {', '.join(FIELDS)}; got {sorted(bad)}")
        ts = data.get("timestamp") or {}
        return cls(columns=dict(columns), defaults=dict(data.get("defaults") or {}),
                   identifiers=dict(data.get("identifiers") or {}), timestamp_format=ts.get("format", "auto"),
                   timestamp_unit=ts.get("unit", "auto"), timezone=ts.get("timezone"),
                   phone_region=data.get("phone_region"), attributes=data.get("attributes", "rest"),
                   encoding=data.get("encoding") or "utf-8-sig")

    @classmethod
    def load(cls, path: str | Path) -> Mapping:
        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"mapping file {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"mapping file {path}: expected a YAML mapping at the top level")
        return cls.from_dict(data)

    def as_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "defaults": self.defaults, "identifiers": self.identifiers,
                "timestamp": {"format": self.timestamp_format, "unit": self.timestamp_unit,
                              "timezone": self.timezone},
                "phone_region": self.phone_region, "attributes": self.attributes, "encoding": self.encoding}

    def column(self, name: str) -> str:
        return self.columns.get(name, name)

    @cached_property
    def plan(self) -> tuple[tuple[str, str, str], ...]:
        """(field, column, default) for every field, worked out once instead of once per row."""
        return tuple((name, self.column(name), _text(self.defaults.get(name))) for name in FIELDS)

    @cached_property
    def used_columns(self) -> frozenset[str]:
        return frozenset(self.column(name) for name in FIELDS) | frozenset(self.identifiers.values())

    @cached_property
    def key_columns(self) -> tuple[str, ...]:
        """The columns that can say whose event a row is: the customer id or an identifier."""
        return tuple(dict.fromkeys([self.column("customer_id"), *(self.column(f) for f in IDENTIFIER_FIELDS),
                                    *self.identifiers.values()]))

    def check_header(self, header: list[str], source: str) -> None:
        """A header without any key column would quarantine every row: refuse the file up front,
        naming what it has and what would do."""
        defaulted = any(self.defaults.get(f) for f in ("customer_id", *IDENTIFIER_FIELDS))
        if defaulted or set(header) & set(self.key_columns):
            return
        customer, *identifiers = self.key_columns
        raise ValueError(
            f"{source}: no customer or identifier column in the header. Columns found: {', '.join(header)}. "
            f"Expected {customer}, or an identifier column: {', '.join(identifiers)} (name yours in a --mapping "
            f"file, for example `columns: {{customer_id: {header[0] if header else 'your_column'}}}`)")

    def describes_event(self, obj: dict[str, Any]) -> bool:
        """Whether a JSON object is itself an event (it has one of the mapped fields) rather than a
        wrapper around a list of them."""
        return any(lookup(obj, self.column(name)) is not None for name in FIELDS)


def lookup(row: dict[str, Any], path: str) -> Any:
    """A value by column name, or by dotted path into nested JSON objects."""
    if path in row:
        return row[path]
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def to_record(row: Any, mapping: Mapping, *, source: str, seq: int = 0,
              seen: dict[str, int] | None = None) -> EventRecord:
    """One row as an event. `seq` is its arrival order; `seen` counts the ids derived so far in the
    same input, so identical rows without an event id stay distinct events (see `_derived_id`)."""
    if not isinstance(row, dict):
        raise RowError(f"row is not an object (got {type(row).__name__})")
    get = _fields(row, mapping)
    identifiers = parse_identifiers(row, get, mapping)
    if not get["customer_id"] and not identifiers:
        raise RowError("no customer key: needs customer_id or an identifier (phone, email, account_id)")
    if not get["event_type"]:
        raise RowError(f"no event type (column {mapping.column('event_type')!r} is empty)")
    if not get["channel"]:
        raise RowError(f"no channel (column {mapping.column('channel')!r} is empty)")
    ts = parse_timestamp(lookup(row, mapping.column("timestamp")), mapping)
    attributes = _attributes(row, mapping)
    event_id = get["event_id"] or _derived_id(get, ts, attributes, seen)
    return EventRecord(event_id=event_id, type=get["event_type"], channel=get["channel"].lower(), ts=ts,
                       customer_id=get["customer_id"], identifiers=identifiers, source=source,
                       intent=get["intent"] or None, outcome=get["outcome"] or None, attributes=attributes,
                       seq=seq)


def _fields(row: dict[str, Any], mapping: Mapping) -> dict[str, str]:
    """Every mapped field as stripped text, or its default (the per-row hot path of an ingest)."""
    get = {}
    for name, column, default in mapping.plan:
        value = row[column] if column in row else lookup(row, column)
        if type(value) is str:
            text = value.strip()
            if not text.isascii() or "\x00" in text:
                _check_text(name, text)
        else:
            if isinstance(value, dict | list):
                raise RowError(f"{name} must be a single value, not a JSON {type(value).__name__}")
            text = _text(value)
        get[name] = text or default
    return get


def _check_text(name: str, text: str) -> None:
    """Text the stores cannot hold: NUL characters (PostgreSQL text) and lone UTF-16 surrogates (UTF-8)."""
    if "\x00" in text:
        raise RowError(f"{name} contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RowError(f"{name} is not valid Unicode text ({exc.reason} at position {exc.start})") from exc


def parse_identifiers(row: dict[str, Any], get: dict[str, str], mapping: Mapping) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for name, kind in IDENTIFIER_FIELDS.items():
        if get[name]:
            found.append((kind, normalize_identifier(kind, get[name], mapping)))
    for kind, column in mapping.identifiers.items():
        value = _text(lookup(row, column))
        if value:
            found.append((kind, normalize_identifier(kind, value, mapping)))
    return tuple(dict.fromkeys(found))


def normalize_identifier(kind: str, value: str, mapping: Mapping) -> str:
    if kind == "phone":
        return normalize_phone(value, mapping.phone_region or settings.DEFAULT_PHONE_REGION)
    if kind == "email":
        if "@" not in value:
            raise RowError(f"email {value!r} is not an e-mail address")
        return value.lower()
    return value


@lru_cache(maxsize=65536)
def normalize_phone(value: str, region: str) -> str:
    """Cached: a customer's phone number repeats on many of their events."""
    try:
        number = phonenumbers.parse(value, None if value.startswith("+") else region)
    except phonenumbers.NumberParseException as exc:
        # the library's text leads with its error code, "(1) The string supplied did not seem to be ..."
        reason = str(exc).split(") ", 1)[-1] if str(exc).startswith("(") else str(exc)
        raise RowError(f"phone {value!r} cannot be read: {reason}") from exc
    if not phonenumbers.is_possible_number(number):
        read_as = "" if value.startswith("+") else f" (read in region {region})"
        raise RowError(f"phone {value!r} is not a possible number{read_as}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_timestamp(value: Any, mapping: Mapping) -> int:
    """Epoch milliseconds from ISO 8601 with a zone, epoch seconds/ms, or a mapping's format."""
    text = _text(value)
    if not text:
        raise RowError(f"no timestamp (column {mapping.column('timestamp')!r} is empty)")
    if mapping.timestamp_format in {"auto", "epoch"} and _is_number(text):
        number = float(text)
        if not math.isfinite(number):
            raise RowError(f"timestamp {text!r} is not a finite number")
        return _in_range(_from_epoch(number, mapping.timestamp_unit), text)
    if mapping.timestamp_format == "epoch":
        raise RowError(f"timestamp {text!r} is not an epoch number")
    try:
        parsed = (datetime.fromisoformat(text.replace("Z", "+00:00"))
                  if mapping.timestamp_format in {"auto", "iso"} else datetime.strptime(text, mapping.timestamp_format))
    except ValueError as exc:
        raise RowError(f"timestamp {text!r} cannot be parsed ({exc})") from exc
    if parsed.tzinfo is None:
        if not mapping.timezone:
            raise RowError(f"timestamp {text!r} has no time zone (add one, or set timestamp.timezone in the mapping)")
        parsed = parsed.replace(tzinfo=ZoneInfo(mapping.timezone))
    try:
        ms = int(parsed.astimezone(UTC).timestamp() * 1000)
    except (OverflowError, ValueError) as exc:  # a zone pushing year 1 or 9999 past the calendar
        raise RowError(f"timestamp {text!r} is out of range ({exc})") from exc
    return _in_range(ms, text)


def _in_range(ms: int, text: str) -> int:
    if not MIN_TS_MS <= ms < MAX_TS_MS:
        raise RowError(f"timestamp {text!r} is out of range: event times must fall between 1970-01-01 and "
                       "2199-12-31 (UTC)")
    return ms


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _from_epoch(number: float, unit: str) -> int:
    if unit == "ms" or (unit == "auto" and abs(number) >= EPOCH_MS_THRESHOLD):
        return int(number)
    return int(number * 1000)


def _attributes(row: dict[str, Any], mapping: Mapping) -> dict[str, Any]:
    used = mapping.used_columns
    if mapping.attributes == "rest":
        keys = [k for k in row if k not in used]
    elif mapping.attributes in ("none", None):
        keys = []
    else:
        keys = list(mapping.attributes)
    attributes = {k: row[k] for k in keys if k in row and row[k] not in (None, "")}
    for key, value in attributes.items():
        if not (type(value) is str and value.isascii() and "\x00" not in value):
            _check_attribute(key, value)
    return attributes


def _check_attribute(name: str, value: Any) -> None:
    """An attribute the stores can hold: valid text, finite numbers, at most a few levels of nesting."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (ValueError, TypeError, RecursionError) as exc:
        raise RowError(f"attribute {name!r} cannot be stored ({type(exc).__name__}: {str(exc)[:100]})") from exc
    if "\\u0000" in text:  # json.dumps writes NUL as an escape
        raise RowError(f"attribute {name!r} contains a NUL character")
    _check_text(f"attribute {name!r}", text)


def _derived_id(get: dict[str, str], ts: int, attributes: dict[str, Any], seen: dict[str, int] | None) -> str:
    """Rows without an event id get a stable id from their content, so re-runs stay idempotent. Two
    identical rows of one input are two events (an event log may record the same activity twice at
    the same second): the n-th occurrence of the same content gets `-n` appended (the first keeps the
    bare hash, as before), so a re-run of the same input derives the same ids again."""
    basis = json.dumps([get["customer_id"], get["phone"], get["email"], get["account_id"], get["event_type"],
                        get["channel"], ts, attributes], sort_keys=True, default=str)
    event_id = "h-" + hashlib.sha256(basis.encode()).hexdigest()[:24]
    if seen is None:
        return event_id
    occurrence = seen[event_id] = seen.get(event_id, 0) + 1
    return event_id if occurrence == 1 else f"{event_id}-{occurrence}"
