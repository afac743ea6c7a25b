"""Event store tests: small CSV inputs written on the fly and a look at what landed in the store; and
engines over event store files written in a temporary folder: DuckDB always, Spark local mode for
tests marked `spark` (one Spark session per test run: SparkSession.getOrCreate reuses it)."""
from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from apps.events import store as event_store
from apps.events.engine import Engine
from tests.events.store_files import write_events
from tests.graph.server_fixture import gremlin_server, gremlin_server_url  # noqa: F401

# "duckdb-window": DuckDB without the journey table (every analysis sorts journeys in its own query)
ENGINE_KINDS = ["duckdb", "duckdb-window", pytest.param("spark", marks=pytest.mark.spark)]

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
    names = [n for files in event_store.event_files().values() for n in files]
    return event_store.read_files(names).sort_by("event_id")


@contextmanager
def rewrite_lock_held_elsewhere(folder: str) -> Iterator[None]:
    """Another process (the web process writing feedback, say) holds the store's rewrite lock meanwhile."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys\nf = open(sys.argv[1], 'a')\nfcntl.flock(f, fcntl.LOCK_EX)\n"
         "print('held', flush=True)\nsys.stdin.read()", str(Path(folder) / event_store.REWRITE_LOCK)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.communicate("", timeout=30)


def stored_days() -> dict[str, list[str]]:
    return {day: sorted(event_store.read_files(names, ["event_id"]).column("event_id").to_pylist())
            for day, names in event_store.event_files().items()}


@pytest.fixture
def store(tmp_path: Path, settings) -> Callable[..., Engine]:  # type: ignore[no-untyped-def]
    """Write a frame into a fresh store and open an engine of the given kind over it."""
    settings.ANALYTICS_TEMP_DIR = str(tmp_path / "spill")

    def make(frame: pd.DataFrame, kind: str = "duckdb", *, files_per_day: int = 2) -> Engine:
        root = tmp_path / "store"
        write_events(root, frame, files_per_day=files_per_day)
        if kind == "duckdb-window":
            settings.ANALYTICS_JOURNEY_TABLE = False
            kind = "duckdb"
        return Engine(store_url=str(root), kind=kind)

    return make


def tied_frame(*, n_events: int, n_customers: int, seed: int) -> pd.DataFrame:
    """The synthetic journeys with times cut to six hours (so one customer has equal times) and an
    arrival order that differs from event ids: only `seq` can order the ties. Sorted by (customer,
    ts, seq), the order every analysis must follow."""
    from apps.journeys.synthetic import synthetic_frame

    frame = synthetic_frame(n_events=n_events, n_customers=n_customers, seed=seed)
    frame["ts"] = frame["ts"] // 21_600_000 * 21_600_000
    frame["seq"] = frame.sample(frac=1.0, random_state=seed).index.to_numpy().argsort()
    return frame.sort_values(["customer_id", "ts", "seq"], kind="stable").reset_index(drop=True)


@pytest.fixture(scope="session", autouse=True)
def stop_spark_at_the_end():  # type: ignore[no-untyped-def]
    """Stop the Spark session (if a test started one) before the interpreter shuts its streams. py4j's
    thread that releases Java objects may still find the gateway gone at exit and says so with
    `logging.info` on the root logger, after the streams are closed ("--- Logging error ---" under a
    passing run): once the session has stopped there is nothing left to log at that level."""
    yield
    import logging
    import sys

    if "pyspark.sql" in sys.modules:
        from pyspark.sql import SparkSession

        session = SparkSession.getActiveSession()
        if session is not None:
            session.stop()
        logging.getLogger().setLevel(logging.WARNING)
