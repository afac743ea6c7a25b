"""Labelled event files for `evaluate`: the ingest formats (CSV, JSON, NDJSON) read into the canonical frame.

Rows go through the ingest app's own mapping, so a file that `manage.py ingest` accepts is read the same
way here; a row that ingest would quarantine is an error naming its line.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from apps.ingest.mapping import Mapping, RowError, to_record
from apps.ingest.readers import iter_rows, open_source

EVENT_COLUMNS = ["customer_id", "event_id", "type", "channel", "ts", "intent", "outcome", "attributes", "row"]
FORMAT_BY_SUFFIX = {".csv": "csv", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson"}


def read_events_file(path: Path, fmt: str | None = None) -> pd.DataFrame:
    return read_events_and_identifiers(path, fmt)[0]


def read_events_and_identifiers(path: Path, fmt: str | None = None
                                ) -> tuple[pd.DataFrame, dict[str, list[tuple[str, int]]]]:
    """The canonical events frame (plus `row`, the file's row number: its order) and, per customer, the
    identifier kinds the rows carry (first seen)."""
    fmt = fmt or FORMAT_BY_SUFFIX.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: cannot tell the format from the suffix (use .csv, .json, .ndjson or .jsonl)")
    mapping = Mapping()
    rows = []
    first_seen: dict[str, dict[str, int]] = {}
    for number, row in iter_rows(open_source(str(path)), fmt):
        try:
            if isinstance(row, RowError):
                raise row
            record = to_record(row, mapping, source=str(path))
        except (RowError, ValueError) as exc:
            raise ValueError(f"{path}: row {number}: {exc}") from exc
        if not record.customer_id:
            raise ValueError(f"{path}: row {number}: evaluation needs a customer_id on every row")
        seen = first_seen.setdefault(record.customer_id, {})
        for kind, _value in record.identifiers:
            seen[kind] = min(seen.get(kind, record.ts), record.ts)
        rows.append({"customer_id": record.customer_id, "event_id": record.event_id, "type": record.type,
                     "channel": record.channel, "ts": record.ts, "intent": record.intent,
                     "outcome": record.outcome, "attributes": record.attributes, "row": number})
    if not rows:
        raise ValueError(f"{path}: no events")
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    frame["ts"] = frame["ts"].astype("int64")
    frame = frame.sort_values(["customer_id", "ts", "event_id"], kind="stable").reset_index(drop=True)
    return frame, {cid: sorted(kinds.items()) for cid, kinds in first_seen.items()}
