"""`events_store repair`: the check, then only the days and tables that differ written again from the
graph; days that equal the graph keep their files."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from gremlin_python.process.graph_traversal import __

from apps.events import maintenance, store
from apps.ingest.services import ingest_file
from graph import get_g
from graph import schema as s
from tests.events.conftest import stored, stored_days

pytestmark = pytest.mark.django_db


def test_repair_writes_again_only_what_differs_and_check_then_finds_nothing(events_csv: str) -> None:
    # given a store with a lost row (e4), a row the graph lacks and a repeat (2026-03-01), and a merge
    # the identity table has not seen
    batch = ingest_file(uri=events_csv, fmt="csv")
    day2 = store.event_files(["2026-03-02"])["2026-03-02"]
    kept = [r for r in store.read_files(day2).to_pylist() if r["event_id"] != "e4"]
    store.delete(day2)
    store.write_day("2026-03-02", store.rows_table(kept), tag="test")
    rows = store.read_files(store.event_files()["2026-03-01"]).to_pylist()
    store.write_day("2026-03-01", store.rows_table([rows[0], {**rows[1], "event_id": "ghost"}]), tag="test")
    get_g().V(s.customer_vid("c1")).add_e(s.MERGED_INTO).to(__.V(s.customer_vid("c2"))) \
        .property("rule", "same_account").property("ts", 1_000).iterate()
    third_day = store.event_files(["2026-03-03"])
    out = StringIO()

    # when the store is repaired
    call_command("events_store", "repair", stdout=out, stderr=StringIO())

    # then the differences were named, the two days and the identity table written again, the third
    # day's files left as they were, and every row keeps its batch
    lines = out.getvalue().splitlines()
    assert lines[0] == "2026-03-01: graph 3 events, store 5"
    assert lines[-1] == "repaired 2 days and the identity table from the graph"
    assert store.event_files(["2026-03-03"]) == third_day
    assert stored_days() == {"2026-03-01": ["e1", "e2", "e3"], "2026-03-02": ["e4", "e5"],
                             "2026-03-03": ["e6", "e7", "e8"]}
    assert set(stored().column("batch_id").to_pylist()) == {str(batch.pk)}
    assert maintenance.check().equal
    again = StringIO()
    call_command("events_store", "repair", stdout=again, stderr=StringIO())
    assert again.getvalue().splitlines() == ["the event store equals the graph: nothing to repair"]
