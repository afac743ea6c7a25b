"""Event store tests: small CSV inputs written on the fly, and a look at what landed in the store."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from apps.events import store
from tests.graph.server_fixture import gremlin_server, gremlin_server_url  # noqa: F401

COLUMNS = ["event_id", "customer_id", "event_type", "channel", "timestamp", "intent", "page"]


def write_csv(path: Path, rows: list[dict[str, Any]]) -> str:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def event(n: int, *, customer: str = "c1", day: int = 1, minute: int = 0, **extra: Any) -> dict[str, Any]:
    return {"event_id": f"e{n}", "customer_id": customer, "event_type": "login", "channel": "web",
            "timestamp": f"2026-03-{day:02d}T10:{minute:02d}:00+00:00", **extra}


@pytest.fixture
def events_csv(tmp_path: Path) -> str:
    """Eight events of three customers over three days."""
    rows = [event(1, day=1), event(2, day=1, minute=5, intent="card"), event(3, customer="c2", day=1),
            event(4, customer="c2", day=2, page="/home"), event(5, day=2), event(6, customer="c3", day=3),
            event(7, customer="c3", day=3, minute=1), event(8, day=3)]
    return write_csv(tmp_path / "events.csv", rows)


def stored() -> pa.Table:
    """Every row in the event store, in event id order."""
    names = [n for files in store.event_files().values() for n in files]
    return store.read_files(names).sort_by("event_id")


def stored_days() -> dict[str, list[str]]:
    return {day: sorted(store.read_files(names, ["event_id"]).column("event_id").to_pylist())
            for day, names in store.event_files().items()}
