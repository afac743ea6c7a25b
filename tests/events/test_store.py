"""The event store's copy of ingested events: content, partitions, idempotency, arrival order, S3."""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from moto import mock_aws

from apps.events import maintenance, schema, store
from apps.ingest.services import ingest_file, ingest_records
from graph import journeys
from tests.backends import graph_backend  # noqa: F401
from tests.events.conftest import event, stored, stored_days, write_csv

pytestmark = pytest.mark.django_db
T_0301_1005 = 1772359500000  # 2026-03-01T10:05:00Z


def test_every_ingested_event_lands_once_in_its_days_partition(events_csv: str, graph_backend: str) -> None:  # noqa: F811
    # given a CSV of eight events over three days
    # when it is ingested
    batch = ingest_file(uri=events_csv, fmt="csv")

    # then each event is in the Parquet partition of its date, with the schema's columns
    assert stored_days() == {"2026-03-01": ["e1", "e2", "e3"], "2026-03-02": ["e4", "e5"],
                             "2026-03-03": ["e6", "e7", "e8"]}
    table = stored()
    assert table.column_names == list(schema.EVENT_COLUMNS)
    row = table.to_pylist()[1]
    assert row == {"event_id": "e2", "customer_id": "c1", "type": "login", "channel": "web", "ts": T_0301_1005,
                   "seq": (batch.pk << 32) + 2, "intent": "card", "outcome": None, "source": events_csv,
                   "attributes": "{}", "batch_id": str(batch.pk)}
    assert json.loads(table.to_pylist()[3]["attributes"]) == {"page": "/home"}
    # and the graph carries the same arrival number
    assert journeys.customer_events("c1", limit=2)[1]["seq"] == (batch.pk << 32) + 2
    assert maintenance.check().equal


def test_re_ingesting_the_same_file_adds_nothing_to_the_store(events_csv: str) -> None:
    ingest_file(uri=events_csv, fmt="csv")
    files_before = store.event_files()

    batch = ingest_file(uri=events_csv, fmt="csv")

    assert (batch.loaded, batch.duplicates) == (0, 8)
    assert store.event_files() == files_before
    assert stored().num_rows == 8


def test_events_posted_to_the_api_land_in_the_store(api_client) -> None:  # type: ignore[no-untyped-def]
    body = [{"event_id": "a1", "customer_id": "c9", "event_type": "call", "channel": "voice",
             "timestamp": "2026-03-04T08:00:00Z", "intent": "loan"}]

    response = api_client.post("/api/events", body, format="json")

    assert response.status_code == 201
    assert stored_days() == {"2026-03-04": ["a1"]}
    assert stored().column("intent").to_pylist() == ["loan"]


def test_two_identical_rows_without_event_ids_are_two_events_and_a_rerun_adds_none(tmp_path: Path) -> None:
    # given a file with the same row twice and no event ids (an event log that recorded it twice)
    row = {**event(0), "event_id": ""}
    path = write_csv(tmp_path / "twice.csv", [row, row, {**row, "customer_id": "c2"}])

    first = ingest_file(uri=path, fmt="csv")
    again = ingest_file(uri=path, fmt="csv")

    assert (first.loaded, first.duplicates) == (3, 0)
    assert (again.loaded, again.duplicates) == (0, 3)
    ids = stored().column("event_id").to_pylist()
    assert len(ids) == 3 and len(set(ids)) == 3
    base = [i for i in ids if i.endswith("-2")][0].removesuffix("-2")
    assert sorted(ids).count(base) == 1 and journeys.customer_event_count("c1") == 2


def test_events_at_the_same_time_keep_arrival_order_in_the_timeline_both_ways_and_across_pages(
        api_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # given five events of one customer at the same second, ids deliberately not in arrival order
    rows = [{**event(0), "event_id": name} for name in ["z", "b", "y", "a", "x"]]
    ingest_file(uri=write_csv(tmp_path / "tied.csv", rows), fmt="csv")

    # when the timeline is read two at a time, oldest first and newest first
    pages = [api_client.get(f"/api/customers/c1/journey?offset={o}&limit=2").json()["results"] for o in (0, 2, 4)]
    newest = [journeys.customer_events("c1", offset=o, limit=2, newest_first=True) for o in (0, 2, 4)]

    # then both follow the order the rows arrived in, and the store agrees
    assert [e["event_id"] for page in pages for e in page] == ["z", "b", "y", "a", "x"]
    assert [e["event_id"] for page in newest for e in page] == ["x", "a", "y", "b", "z"]
    by_seq = sorted(stored().to_pylist(), key=lambda r: (r["ts"], r["seq"]))
    assert [r["event_id"] for r in by_seq] == ["z", "b", "y", "a", "x"]


def test_records_ingest_numbers_arrivals_after_the_earlier_batch() -> None:
    first = ingest_records(records=[{**event(1)}], source="test")
    second = ingest_records(records=[{**event(2)}, {**event(3)}], source="test")

    seqs = dict(zip(stored().column("event_id").to_pylist(), stored().column("seq").to_pylist(), strict=True))
    assert seqs == {"e1": (first.pk << 32) + 1, "e2": (second.pk << 32) + 1, "e3": (second.pk << 32) + 2}


def test_disabled_store_writes_nothing(events_csv: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.EVENTS_STORE_ENABLED = False

    batch = ingest_file(uri=events_csv, fmt="csv")

    assert batch.loaded == 8
    assert store.event_files() == {}


def test_large_loads_flush_as_they_go_into_few_files_per_day(events_csv: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.EVENTS_STORE_FLUSH_ROWS = 4

    ingest_file(uri=events_csv, fmt="csv", chunk_size=2)

    # flushed after e1..e4 and after e5..e8: day 1 in one file, days 2 and 3 ...
    assert {day: len(names) for day, names in store.event_files().items()} == {
        "2026-03-01": 1, "2026-03-02": 2, "2026-03-03": 1}
    assert maintenance.check().equal


@pytest.fixture
def s3_store(settings, monkeypatch):  # type: ignore[no-untyped-def]
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        settings.EVENTS_STORE_URL = "s3://lake/journeys"
        yield s3


def test_an_s3_store_gets_hive_partitioned_files_and_checks_equal(events_csv: str, s3_store, capsys) -> None:  # type: ignore[no-untyped-def]
    ingest_file(uri=events_csv, fmt="csv")

    keys = [o["Key"] for o in s3_store.list_objects_v2(Bucket="lake")["Contents"]]
    assert sorted(k.rsplit("/", 1)[0] for k in keys) == [
        "journeys/events/event_date=2026-03-01", "journeys/events/event_date=2026-03-02",
        "journeys/events/event_date=2026-03-03"]
    body = s3_store.get_object(Bucket="lake", Key=keys[0])["Body"].read()
    assert pq.read_table(__import__("pyarrow").BufferReader(body)).column("event_id").to_pylist() == ["e1", "e2", "e3"]
    assert store.events_uri() == "s3://lake/journeys/events"
    call_command("events_store", "check")
    assert "3 days, graph 8 events, store 8 events: equal" in capsys.readouterr().out


def test_public_locations_for_the_engine(events_csv: str, settings) -> None:  # type: ignore[no-untyped-def]
    ingest_file(uri=events_csv, fmt="csv")

    root = Path(settings.EVENTS_STORE_URL)
    assert store.events_uri() == str(root / "events")
    assert store.identity_uri() == str(root / "identity" / "customers.parquet")
    assert [Path(u).parent.name for u in store.event_file_uris(["2026-03-02"])] == ["event_date=2026-03-02"]


def test_events_written_outside_ingest_are_copied_by_copy_written() -> None:
    from apps.events.services import copy_written
    from graph.schema import EventRecord

    record = EventRecord(event_id="connect-1", type="call", channel="voice", ts=T_0301_1005, customer_id="c5",
                         intent="card", source="connect_feedback")
    copy_written([record], journeys.write_events([record]))
    copy_written([record], journeys.write_events([record]))  # a repeat adds nothing

    assert stored().to_pylist() == [{"event_id": "connect-1", "customer_id": "c5", "type": "call",
                                     "channel": "voice", "ts": T_0301_1005, "seq": 0, "intent": "card",
                                     "outcome": None, "source": "connect_feedback", "attributes": "{}",
                                     "batch_id": ""}]
    assert maintenance.check().equal


def test_the_demo_fills_the_event_store(settings, tmp_path: Path, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path

    call_command("demo", "--no-serve", "--customers", "50", "--no-train", stdout=__import__("io").StringIO())

    report = maintenance.check()
    assert (report.equal, report.graph_events) == (True, journeys.graph_counts()["event"])
    assert report.store_events == 977
