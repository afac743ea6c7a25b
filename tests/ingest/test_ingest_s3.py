"""Ingest straight from S3 (moto stands in for the S3 API; boto3 and our code are the real parts)."""
from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from django.core.management import CommandError, call_command
from moto import mock_aws

from apps.ingest.models import IngestBatch
from graph import journeys

pytestmark = pytest.mark.django_db
CSV = Path(__file__).parent.parent / "fixtures" / "ingest" / "events_with_bad_rows.csv"


@pytest.fixture
def bucket(monkeypatch):  # type: ignore[no-untyped-def]
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "ap-southeast-2"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="journeys", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"})
        s3.put_object(Bucket="journeys", Key="in/events.csv", Body=CSV.read_bytes())
        yield "journeys"


def test_ingest_command_reads_an_s3_object_with_progress(bucket, capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("ingest", "s3://journeys/in/events.csv", "--format", "csv")

    batch = IngestBatch.objects.get()
    assert (batch.source, batch.loaded, batch.quarantined) == ("s3://journeys/in/events.csv", 5, 3)
    assert (batch.bytes_total, batch.bytes_read) == (CSV.stat().st_size, CSV.stat().st_size)
    assert "100.0% 8 rows read, 5 loaded, 3 quarantined" in capsys.readouterr().err
    assert journeys.graph_counts()["event"] == 5


def test_missing_s3_key_is_a_clear_error(bucket) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandError, match="s3://journeys/in/nope.csv"):
        call_command("ingest", "s3://journeys/in/nope.csv", "--format", "csv")
    assert IngestBatch.objects.count() == 0
