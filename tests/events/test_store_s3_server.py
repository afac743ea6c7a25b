"""An `s3://bucket/prefix` event store against moto's S3 server on loopback (real HTTP, no network
beyond it): ingest writes it through boto3, DuckDB analyses it through pyarrow's S3 filesystem (no
httpfs download), `events_store check` finds it equal, and an unreachable S3 fails the batch clearly
while a re-run repairs it."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from django.utils import timezone
from moto.server import ThreadedMotoServer

from apps.core import jobs
from apps.core.models import Job, Lease
from apps.events import engine as analytics_engine
from apps.events import maintenance, store
from apps.events.store import EventStoreError
from apps.ingest.models import IngestBatch
from apps.ingest.services import ingest_file
from apps.journeys import selectors
from apps.journeys.analyzers import drill, frequency, funnels
from tests.events.conftest import write_csv
from tests.journeys.conftest import JOURNEYS, MIN, T0, make_frame

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def lake(moto_server: str, settings, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    """A fresh bucket on the server; the event store under its `journeys/` prefix. boto3's default
    session (which keeps the credentials it found) is this test's own and is dropped after it."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT_URL": moto_server}.items():
        monkeypatch.setenv(name, value)
    bucket = f"lake-{uuid.uuid4().hex[:8]}"
    boto3.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    settings.EVENTS_STORE_URL = f"s3://{bucket}/journeys"
    return bucket


@pytest.fixture
def journeys_csv(tmp_path: Path) -> str:
    rows = [{"event_id": f"{c}-{i:03d}", "customer_id": c, "event_type": t, "channel": ch,
             "timestamp": datetime.fromtimestamp((T0 + m * MIN) / 1000, tz=UTC).isoformat()}
            for i, (c, m, t, ch, _) in enumerate(JOURNEYS)]
    return write_csv(tmp_path / "journeys.csv", rows)


def test_an_s3_store_is_written_analysed_by_duckdb_and_checks_equal(lake: str, journeys_csv: str) -> None:
    # given the hand-built journeys ingested into an s3:// store
    ingest_file(uri=journeys_csv, fmt="csv")
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=lake)["Contents"]]
    assert sorted({k.rsplit("/", 1)[0] for k in keys}) == [
        "journeys/events/event_date=2026-01-05", "journeys/events/event_date=2026-01-06",
        "journeys/events/event_date=2026-01-07"]
    expected = make_frame(JOURNEYS)

    # when the analyses run on DuckDB over the bucket
    dfg = selectors.directly_follows()
    funnel = selectors.funnel(events_in_order=["web_visit", "call", "purchase"])
    page = selectors.path_customers_page(nodes=["1:web_visit"], limit=2, offset=1)

    # then they answer what the analyzers answer on the same events, without DuckDB's httpfs
    assert dfg == frequency.directly_follows(expected)
    assert funnel == funnels.funnel(expected, events=["web_visit", "call", "purchase"])
    everyone = drill.customers_at(expected, nodes=[drill.NodeRef(1, "web_visit")])
    assert (page.count, page.ids) == (len(everyone), tuple(everyone[1:3])) == (4, ("c2", "c3"))
    engine = analytics_engine.get_engine()
    assert engine.has_events()  # read from the bucket, not the graph
    assert engine.backend.con.sql("select loaded, installed from duckdb_extensions() "
                                  "where extension_name = 'httpfs'").fetchall() == [(False, False)]
    assert maintenance.check().equal


def test_an_empty_s3_store_reads_the_graph_until_it_has_files(lake: str, journeys_csv: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.EVENTS_STORE_ENABLED = False
    ingest_file(uri=journeys_csv, fmt="csv")

    assert not analytics_engine.get_engine().has_events()
    assert selectors.directly_follows() == frequency.directly_follows(make_frame(JOURNEYS))


def test_unreachable_s3_fails_the_batch_clearly_and_the_next_run_repairs(lake: str, journeys_csv: str,  # type: ignore[no-untyped-def]
                                                                         moto_server: str, monkeypatch,
                                                                         settings) -> None:
    # given S3 that refuses connections (a loopback port nobody listens on)
    settings.AWS_MAX_ATTEMPTS = 1
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")

    with pytest.raises(EventStoreError, match=rf"event store: cannot write s3://{lake}/journeys/events/event_date="
                                              r"2026-01-05/.*"):
        ingest_file(uri=journeys_csv, fmt="csv")
    assert IngestBatch.objects.get().status == "failed"

    # when S3 is back and the same input runs again
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    again = ingest_file(uri=journeys_csv, fmt="csv")

    # then nothing was lost: the store equals the graph
    assert again.status == "completed"
    assert maintenance.check().equal
    assert selectors.directly_follows() == frequency.directly_follows(make_frame(JOURNEYS))


def test_the_worker_compacts_an_s3_store_once_the_lease_of_a_writer_that_died_expired(  # type: ignore[no-untyped-def]
        lake: str, journeys_csv: str, tmp_path: Path, settings) -> None:
    # given a day of two files on S3 (a second batch of one event), and the store's rewrite lease
    # held by a process on another machine
    ingest_file(uri=journeys_csv, fmt="csv")
    late = {"event_id": "c5-late", "customer_id": "c5", "event_type": "call", "channel": "phone",
            "timestamp": datetime.fromtimestamp((T0 + 30 * MIN) / 1000, tz=UTC).isoformat()}
    ingest_file(uri=write_csv(tmp_path / "late.csv", [late]), fmt="csv")
    assert len(store.event_files(["2026-01-05"])["2026-01-05"]) == 2
    settings.EVENTS_REWRITE_WAIT_SECONDS = 0
    lease, now = f"event store rewrite s3://{lake}/journeys", timezone.now()
    Lease.objects.create(name=lease, holder="worker-2:4242:1:abcd", taken=now, expires=now + timedelta(minutes=15))

    # when the worker's schedule runs, then it is held back with the reason and the day keeps its files
    assert jobs.run_recurring("compact the event store") == "failed"
    refused = Job.objects.get(ref="compact the event store")
    assert refused.error.startswith(
        f"event store: s3://{lake}/journeys is held by another rewrite (a compaction, a repair or an update of rows, "
        f"by worker-2:4242 until {now + timedelta(minutes=15):%Y-%m-%d %H:%M:%S} UTC at the latest)")
    assert len(store.event_files(["2026-01-05"])["2026-01-05"]) == 2

    # when that writer died: its lease expires, and the next run merges the day and lets the lease go
    Lease.objects.filter(name=lease).update(expires=now - timedelta(seconds=1))
    assert jobs.run_recurring("compact the event store") == "succeeded"
    assert Job.objects.filter(ref="compact the event store", status="succeeded").get().result == (
        "1 day(s) merged, 2 file(s) replaced")
    assert len(store.event_files(["2026-01-05"])["2026-01-05"]) == 1
    assert not Lease.objects.exists()
    assert maintenance.check().equal


def test_a_rewrite_whose_lease_another_writer_took_meanwhile_fails_with_the_reason(lake: str) -> None:
    lease = f"event store rewrite s3://{lake}/journeys"
    with pytest.raises(EventStoreError) as failed, store.rewriting():
        assert Lease.objects.get().name == lease
        # as if this writer had stalled past its lease's term and another machine's writer took it
        Lease.objects.update(holder="worker-2:4242:1:abcd")

    assert str(failed.value) == (
        f"event store: s3://{lake}/journeys: lease '{lease}' expired and was taken by another holder before its "
        f"work was done (not renewed for 120 s): the work ran, but not alone; `manage.py events_store check` "
        "says whether the store still matches the graph, and `repair` mends it")
    assert list(Lease.objects.values_list("holder", flat=True)) == ["worker-2:4242:1:abcd"]
