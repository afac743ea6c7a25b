"""Faults and upkeep: kills between the graph commit and the copy, an unwritable store, and
`events_store check | rebuild | compact` naming and repairing every difference."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow as pa
import pytest
from django.core.management import CommandError, call_command

from apps.core import storage
from apps.events import identity, maintenance, services, store
from apps.events.store import EventStoreError
from apps.ingest.models import IngestBatch
from apps.ingest.services import ingest_file
from graph import get_g, journeys
from graph import schema as s
from tests.events.conftest import stored, stored_days
from tests.problems import problem

pytestmark = pytest.mark.django_db


class Killed(BaseException):
    """Stands for the process being killed: nothing in the ingest path handles it."""


def test_kill_after_the_graph_commit_before_the_copy_is_repaired_by_a_rerun(events_csv: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # given a run killed after every chunk reached the graph but before any row reached the store
    def killed(self: services.EventCopy) -> None:
        raise Killed
    with monkeypatch.context() as patch:
        patch.setattr(services.EventCopy, "flush", killed)
        with pytest.raises(Killed):
            ingest_file(uri=events_csv, fmt="csv")
    assert journeys.graph_counts()["event"] == 8 and store.event_files() == {}
    assert not maintenance.check().equal

    # when the same input is run again: the graph calls every event a duplicate
    batch = ingest_file(uri=events_csv, fmt="csv")

    # then the store gets them all the same, once each
    assert (batch.loaded, batch.duplicates) == (0, 8)
    assert stored().num_rows == 8
    assert maintenance.check().equal


def test_kill_in_the_middle_of_writing_a_file_leaves_no_half_file_and_a_rerun_repairs(
        events_csv: str, monkeypatch, settings) -> None:  # type: ignore[no-untyped-def]
    # given a run killed while the second day's file is being written (its bytes are on disk under
    # a temporary name, the rename never happens)
    real_replace = storage.os.replace
    calls = []

    def replace(src: str, dst: str) -> None:
        if "/events/" in str(dst):  # event files, not the manifest's own renames
            calls.append(dst)
        if len(calls) == 2:
            raise Killed
        real_replace(src, dst)
    with monkeypatch.context() as patch:
        patch.setattr(storage.os, "replace", replace)
        with pytest.raises(Killed):
            ingest_file(uri=events_csv, fmt="csv")
    assert stored_days() == {"2026-03-01": ["e1", "e2", "e3"]}
    assert any(p.name.startswith(".") for p in Path(settings.EVENTS_STORE_URL).rglob("*"))

    ingest_file(uri=events_csv, fmt="csv")

    assert stored().num_rows == 8
    report = maintenance.check()
    assert (report.equal, report.graph_events, report.store_events) == (True, 8, 8)
    # and compaction clears the temporary file once it is old enough not to be another writer's
    messages: list[str] = []
    maintenance.compact(messages.append)
    assert messages == []
    for path in Path(settings.EVENTS_STORE_URL).rglob(".*"):
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    maintenance.compact(messages.append)
    assert messages == ["removed 1 temporary files left by interrupted writes"]
    assert not any(p.name.startswith(".") for p in Path(settings.EVENTS_STORE_URL).rglob("*"))


def test_unwritable_store_fails_the_batch_clearly_and_the_next_run_repairs_it(
        events_csv: str, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # given an event store whose folder cannot be created (a file stands where it should be)
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    settings.EVENTS_STORE_URL = str(blocker / "events")

    with pytest.raises(EventStoreError, match=r"event store: cannot write .*blocker/events/events/event_date="):
        ingest_file(uri=events_csv, fmt="csv")

    batch = IngestBatch.objects.get()
    assert batch.status == "failed"
    assert batch.error.endswith("The graph holds the events; run the same ingest again to copy them to the "
                                "event store.")
    assert journeys.graph_counts()["event"] == 8

    # when the store is fixed and the same input runs again
    blocker.unlink()
    again = ingest_file(uri=events_csv, fmt="csv")

    assert again.status == "completed"
    assert maintenance.check().equal


def test_unreachable_store_through_the_api_is_a_503_and_the_retry_copies(api_client, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    settings.EVENTS_STORE_URL = str(blocker / "events")
    body = {"event_id": "a1", "customer_id": "c1", "event_type": "call", "channel": "voice",
            "timestamp": "2026-03-04T08:00:00Z"}

    response = api_client.post("/api/events", body, format="json")

    assert response.status_code == 503
    assert problem(response)["type"] == "urn:journeyhub:problem:event-store-unavailable"
    blocker.unlink()
    assert api_client.post("/api/events", body, format="json").json()["duplicates"] == 1
    assert stored_days() == {"2026-03-04": ["a1"]}


def test_check_names_each_difference_and_rebuild_repairs_them(events_csv: str, capsys) -> None:  # type: ignore[no-untyped-def]
    # given a store that lost day two's file and holds a changed row on day three
    ingest_file(uri=events_csv, fmt="csv")
    files = store.event_files()
    store.delete(files["2026-03-02"])
    day3 = store.read_files(files["2026-03-03"]).to_pylist()
    day3[0]["channel"] = "app"
    store.delete(files["2026-03-03"])
    store.write_day("2026-03-03", store.rows_table(day3), tag="test")

    # when it is checked
    with pytest.raises(CommandError, match="3 days, graph 8 events, store 6 events: 4 differences"):
        call_command("events_store", "check")

    # then every difference is named
    assert capsys.readouterr().out.splitlines() == [
        "2026-03-02: graph 2 events, store 0",
        "2026-03-03: graph 3 events, store 3 (same count, different content)",
        "2026-03-02: 2 missing from the store: e4, e5",
        "2026-03-03: 1 different in the store: e8",
    ]
    # and a rebuild from the graph makes them equal again, one file per day
    call_command("events_store", "rebuild")
    assert {day: len(names) for day, names in store.event_files().items()} == {
        "2026-03-01": 1, "2026-03-02": 1, "2026-03-03": 1}
    call_command("events_store", "check")
    assert capsys.readouterr().out.splitlines()[-1] == "3 days, graph 8 events, store 8 events: equal"


def test_check_names_rows_the_graph_does_not_have_and_repeated_rows(events_csv: str) -> None:
    ingest_file(uri=events_csv, fmt="csv")
    rows = store.read_files(store.event_files()["2026-03-01"]).to_pylist()
    store.write_day("2026-03-01", store.rows_table([rows[0], {**rows[1], "event_id": "ghost"}]), tag="test")

    report = maintenance.check()

    assert report.differences == [
        "2026-03-01: graph 3 events, store 5",
        "2026-03-01: the store holds 1 repeated event ids",
        "2026-03-01: 1 only in the store: ghost",
        "2026-03-01: 1 repeated in the store: e1",
    ]


def test_compact_merges_each_days_files_into_one_and_drops_repeats(events_csv: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.EVENTS_STORE_FLUSH_ROWS = 2
    ingest_file(uri=events_csv, fmt="csv", chunk_size=1)
    first_day = store.event_files()["2026-03-01"]
    store.write_day("2026-03-01", store.read_files(first_day[:1]), tag="test")  # a repeat left by a stop
    assert [len(v) for v in store.event_files().values()] == [3, 2, 2]

    days, removed = maintenance.compact()

    assert (days, removed) == (3, 7)
    assert [len(v) for v in store.event_files().values()] == [1, 1, 1]
    assert stored().column("event_id").to_pylist() == [f"e{n}" for n in range(1, 9)]
    assert maintenance.check().equal


def test_identity_table_follows_merges_without_touching_event_files(events_csv: str) -> None:
    # given three customers' events in the store, then c1 merged into c2 and c2 into c3
    ingest_file(uri=events_csv, fmt="csv")
    files = store.event_files()
    g = get_g()
    for source, target, ts in (("c1", "c2", 1_000), ("c2", "c3", 2_000)):
        (g.V(s.customer_vid(source)).add_e(s.MERGED_INTO).to(__vertex(target))
         .property("rule", "same_account").property("ts", ts).iterate())
    assert identity.identity_differences() == [
        "identity: c1 is merged into c3 in the graph but not in the table",
        "identity: c2 is merged into c3 in the graph but not in the table"]

    # when the identity table is refreshed
    assert identity.refresh_identity() == 2

    # then the table says who counts as whom, and no event file changed
    assert store.read_identity().to_pylist() == [
        {"customer_id": "c1", "canonical_id": "c3", "merged_at": 1_000, "rule": "same_account"},
        {"customer_id": "c2", "canonical_id": "c3", "merged_at": 2_000, "rule": "same_account"}]
    assert store.event_files() == files
    assert maintenance.check().equal


def __vertex(customer_id: str):  # type: ignore[no-untyped-def]
    from gremlin_python.process.graph_traversal import __
    return __.V(s.customer_vid(customer_id))


def test_rebuild_streams_from_the_graph_in_pages_with_progress(events_csv: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    batch = ingest_file(uri=events_csv, fmt="csv")
    store.delete([n for names in store.event_files().values() for n in names])
    monkeypatch.setattr("graph.event_rows.CUSTOMER_PAGE", 2)
    messages: list[str] = []

    total = maintenance.rebuild(messages.append, flush_rows=3)

    assert total == 8
    assert messages[:2] == ["read 2 customers from the graph", "read 3 customers from the graph"]
    assert messages[2:] == ["rebuilt 2026-03-01", "rebuilt 2026-03-02", "rebuilt 2026-03-03",
                            "rebuilt the contacts table: 0 contacts"]
    assert store.read_files(store.event_files()["2026-03-01"]).num_rows == 3
    assert store.folder().list(store.STAGING_DIR) == []
    assert maintenance.check().equal
    assert pa.Table.from_pylist(stored().to_pylist()).column("batch_id").to_pylist() == [str(batch.pk)] * 8


def test_a_missing_s3_bucket_fails_the_batch_naming_it(events_csv: str, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import boto3
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        settings.EVENTS_STORE_URL = "s3://no-such-bucket/journeys"
        with pytest.raises(EventStoreError, match=r"cannot write s3://no-such-bucket/journeys/events/event_date="
                                                  r"2026-03-01/.*S3 bucket 'no-such-bucket' does not exist"):
            ingest_file(uri=events_csv, fmt="csv")
        boto3.client("s3").create_bucket(Bucket="no-such-bucket",
                                         CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

        ingest_file(uri=events_csv, fmt="csv")

        assert maintenance.check().equal
        assert stored().num_rows == 8


def test_compact_command_reports_what_it_merged(events_csv: str, settings, capsys) -> None:  # type: ignore[no-untyped-def]
    settings.EVENTS_STORE_FLUSH_ROWS = 4
    ingest_file(uri=events_csv, fmt="csv", chunk_size=2)

    call_command("events_store", "compact")

    assert capsys.readouterr().out.strip() == "compacted 1 days (2 files merged)"


def test_ingest_command_says_how_to_recover_from_an_unwritable_store(events_csv: str, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    settings.EVENTS_STORE_URL = str(blocker / "events")

    expected = r"(?s)event store: cannot write .*\nThe graph holds the events: run the same command again to copy"
    with pytest.raises(CommandError, match=expected + r" them to the event store\."):
        call_command("ingest", events_csv, "--format", "csv")
