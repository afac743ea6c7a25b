"""Variants and directly-follows counts equal pm4py's on a public event log and on the synthetic set,
on DuckDB and on Spark (pm4py is a test-only dependency)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pm4py
import pytest

from apps.events.analytics import journeys as analytics
from apps.events.engine import EventFilter
from tests.events.conftest import ENGINE_KINDS

RECEIPT = Path(__file__).parent.parent / "fixtures" / "eventlogs" / "receipt.csv"


def receipt_events() -> pd.DataFrame:
    """The receipt log as store events: case -> customer, activity -> type, file row order -> seq."""
    log = pd.read_csv(RECEIPT)
    ts = pd.to_datetime(log["timestamp"], utc=True, format="ISO8601").astype("datetime64[ms, UTC]")
    return pd.DataFrame({"customer_id": log["case_id"], "event_id": [f"r{i}" for i in range(len(log))],
                         "type": log["activity"], "channel": log["channel"],
                         "ts": ts.astype("int64"), "seq": range(len(log))})


def pm4py_log(events: pd.DataFrame) -> pd.DataFrame:
    log = events.rename(columns={"customer_id": "case:concept:name", "type": "concept:name"})
    log["time:timestamp"] = pd.to_datetime(log["ts"], unit="ms", utc=True)
    return log.sort_values(["seq"])[["case:concept:name", "concept:name", "time:timestamp"]]


def pm4py_variants(log: pd.DataFrame) -> dict[tuple[str, ...], int]:
    variants = pm4py.get_variants(log)
    return {tuple(k): (v if isinstance(v, int) else len(v)) for k, v in variants.items()}


@pytest.mark.parametrize("kind", ENGINE_KINDS)
def test_receipt_log_variants_and_dfg_equal_pm4py(store, kind):
    events = receipt_events()
    engine = store(events, kind, files_per_day=1)
    dfg, start, end = pm4py.discover_dfg(pm4py_log(events))

    ours = analytics.directly_follows(engine, EventFilter())
    variants = analytics.variants(engine, EventFilter())

    assert (len(events), events["customer_id"].nunique()) == (8_577, 1_434)
    assert ours.edges == dict(dfg)
    assert (ours.start, ours.end) == (dict(start), dict(end))
    assert variants == pm4py_variants(pm4py_log(events))
    assert max(variants.values()) == 713


def test_synthetic_set_variants_and_dfg_equal_pm4py(store):
    from apps.journeys.synthetic import synthetic_frame

    events = synthetic_frame(n_events=20_000, n_customers=2_000, seed=7)
    engine = store(events)
    dfg, start, end = pm4py.discover_dfg(pm4py_log(events.assign(seq=range(len(events)))))

    ours = analytics.directly_follows(engine, EventFilter())

    assert ours.edges == dict(dfg)
    assert (ours.start, ours.end) == (dict(start), dict(end))
    assert analytics.variants(engine, EventFilter()) == pm4py_variants(
        pm4py_log(events.assign(seq=range(len(events)))))
