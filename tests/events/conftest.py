"""Engines over event store files written in a temporary folder: DuckDB always, Spark local mode for
tests marked `spark` (one Spark session per test run: SparkSession.getOrCreate reuses it)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from apps.events.engine import Engine
from tests.events.store_files import write_events

ENGINE_KINDS = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]


@pytest.fixture
def store(tmp_path: Path, settings) -> Callable[..., Engine]:  # type: ignore[no-untyped-def]
    """Write a frame into a fresh store and open an engine of the given kind over it."""
    settings.ANALYTICS_TEMP_DIR = str(tmp_path / "spill")

    def make(frame: pd.DataFrame, kind: str = "duckdb", *, files_per_day: int = 2) -> Engine:
        root = tmp_path / "store"
        write_events(root, frame, files_per_day=files_per_day)
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
    """Stop the Spark session (if a test started one) before the interpreter shuts its streams."""
    yield
    import sys

    if "pyspark.sql" in sys.modules:
        from pyspark.sql import SparkSession

        session = SparkSession.getActiveSession()
        if session is not None:
            session.stop()
