"""Event store files for engine tests, written in the layout of apps.events.schema (one Parquet file per
event date and chunk), so engine tests run on real Parquet without going through ingest."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from apps.events import schema

ARROW_TYPES = {"string": pa.string(), "int64": pa.int64()}
EVENT_SCHEMA = pa.schema([(name, ARROW_TYPES[kind]) for name, kind in schema.EVENT_COLUMNS.items()])
IDENTITY_SCHEMA = pa.schema([(name, ARROW_TYPES[kind]) for name, kind in schema.IDENTITY_COLUMNS.items()])


def write_events(root: Path, frame: pd.DataFrame, *, files_per_day: int = 2) -> None:
    """Write the events (a canonical frame; `seq` defaults to row order) under root/events/event_date=…/.
    Rows are shuffled first, so nothing may rely on the order rows have in the files."""
    frame = frame.copy()
    if "seq" not in frame.columns:
        frame["seq"] = np.arange(len(frame), dtype=np.int64)
    frame["attributes"] = [a if isinstance(a, str) else json.dumps(a or {}, sort_keys=True)
                           for a in frame.get("attributes", [{}] * len(frame))]
    for column in ("intent", "outcome", "source", "batch_id"):
        if column not in frame.columns:
            frame[column] = None
    frame = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    days = pd.to_datetime(frame["ts"], unit="ms", utc=True).dt.strftime("%Y-%m-%d")
    for day, part in frame.groupby(days):
        folder = root / schema.EVENTS_DIR / f"{schema.PARTITION_COLUMN}={day}"
        folder.mkdir(parents=True, exist_ok=True)
        bounds = np.linspace(0, len(part), files_per_day + 1).astype(int)
        for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            chunk = part.iloc[lo:hi]
            if len(chunk):
                table = pa.Table.from_pandas(chunk[list(schema.EVENT_COLUMNS)], schema=EVENT_SCHEMA,
                                             preserve_index=False)
                pq.write_table(table, folder / f"part-{i}.parquet")


def write_identity(root: Path, canonical: dict[str, str]) -> None:
    """customer key -> canonical key (merges)."""
    folder = root / schema.IDENTITY_DIR
    folder.mkdir(parents=True, exist_ok=True)
    rows = {"customer_id": list(canonical), "canonical_id": list(canonical.values()),
            "merged_at": [1 if k != v else None for k, v in canonical.items()],
            "rule": ["test" if k != v else None for k, v in canonical.items()]}
    pq.write_table(pa.Table.from_pydict(rows, schema=IDENTITY_SCHEMA), folder / "customers.parquet")
