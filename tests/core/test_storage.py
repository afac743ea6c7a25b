"""Local and S3 files through apps.core.storage; S3 is moto's in-process fake, never the network."""
from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from apps.core import storage
from apps.core.storage import StorageError, StorageNotFound

CSV_TEXT = "customer_id,event_id,channel\nc1,e1,web\nc2,e2,voice — café\n"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTSTORAGE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")


@pytest.fixture
def s3(aws_env: None) -> Iterator[object]:
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="journeys-in")
        yield client


def test_open_input_streams_an_s3_object_as_text_rows(s3) -> None:  # type: ignore[no-untyped-def]
    # given a CSV object in a bucket
    s3.put_object(Bucket="journeys-in", Key="daily/2026-11-25.csv", Body=CSV_TEXT.encode())
    # when it is opened as text and parsed
    with storage.open_input("s3://journeys-in/daily/2026-11-25.csv", mode="r") as handle:
        rows = list(csv.DictReader(handle))
    # then the rows are exactly the file's, non-ASCII text intact
    assert rows == [{"customer_id": "c1", "event_id": "e1", "channel": "web"},
                    {"customer_id": "c2", "event_id": "e2", "channel": "voice — café"}]


def test_open_input_reads_s3_bytes_in_chunks(s3) -> None:  # type: ignore[no-untyped-def]
    payload = bytes(range(256)) * 10_000
    s3.put_object(Bucket="journeys-in", Key="blob.bin", Body=payload)
    with storage.open_input("s3://journeys-in/blob.bin") as handle:
        first = handle.read(1000)
        rest = handle.read()
    assert first + rest == payload
    assert len(first) == 1000


def test_open_input_reads_a_local_file(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    with storage.open_input(path, mode="r") as handle:
        assert handle.read() == CSV_TEXT
    with storage.open_input(str(path)) as handle:
        assert handle.read() == CSV_TEXT.encode()


def test_missing_local_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(StorageNotFound, match=r"input file not found: .*nope\.csv"):
        storage.open_input(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError):  # callers may catch the standard exception
        storage.open_input(tmp_path / "nope.csv")


def test_missing_key_and_missing_bucket_are_told_apart(s3) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StorageNotFound, match=r"no S3 object 'daily/missing\.csv' in bucket 'journeys-in'"):
        storage.open_input("s3://journeys-in/daily/missing.csv")
    with pytest.raises(StorageNotFound, match=r"S3 bucket 'no-such-bucket' does not exist"):
        storage.open_input("s3://no-such-bucket/x.csv")


def test_a_bucket_url_without_a_key_is_refused(s3) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StorageError, match="names a bucket but no object: s3://journeys-in/"):
        storage.open_input("s3://journeys-in/")


def test_missing_credentials_are_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # given no credentials anywhere in boto3's chain (and no instance metadata to ask)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # (and no default session an earlier caller left behind: it keeps the credentials it once resolved)
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    # when an object is opened, then the error says what to set
    expected = r"no AWS credentials found for s3://journeys-in/a\.csv: set AWS_ACCESS_KEY_ID"
    with pytest.raises(StorageError, match=expected):
        storage.open_input("s3://journeys-in/a.csv")


@pytest.mark.parametrize("bad", ["", "/etc/passwd", "../up.pkl", "a/../../b", "dir/", "a\\b"])
def test_artifact_paths_cannot_escape_the_folder(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="artifact path must be a relative file path"):
        storage.folder(tmp_path).write_bytes(bad, b"x")


def test_artifacts_in_a_local_folder_round_trip(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # given ARTIFACTS_DIR is a local folder
    settings.ARTIFACTS_DIR = str(tmp_path / "artifacts")
    # when two artifacts are written
    where = storage.write_bytes("intent/v1/model.pkl", b"\x00model")
    storage.write_bytes("intent/v1/meta.json", b"{}")
    # then they read back, exist, and are listed by relative path
    assert where == str(tmp_path / "artifacts" / "intent" / "v1" / "model.pkl")
    assert storage.read_bytes("intent/v1/model.pkl") == b"\x00model"
    assert storage.exists("intent/v1/model.pkl") is True
    assert storage.exists("intent/v2/model.pkl") is False
    assert storage.list_artifacts() == ["intent/v1/meta.json", "intent/v1/model.pkl"]
    assert storage.list_artifacts("risk") == []
    with pytest.raises(StorageNotFound, match=r"artifact not found: .*intent/v2/model\.pkl"):
        storage.read_bytes("intent/v2/model.pkl")


def test_artifacts_under_an_s3_prefix_round_trip(s3, settings) -> None:  # type: ignore[no-untyped-def]
    # given ARTIFACTS_DIR is an S3 prefix
    settings.ARTIFACTS_DIR = "s3://journeys-in/models/prod"
    # when artifacts are written
    where = storage.write_bytes("intent/v1/model.pkl", b"\x00model")
    storage.write_bytes("intent/v1/meta.json", b"{}")
    # then they are objects under the prefix and read back through the same helpers
    assert where == "s3://journeys-in/models/prod/intent/v1/model.pkl"
    assert s3.get_object(Bucket="journeys-in", Key="models/prod/intent/v1/model.pkl")["Body"].read() == b"\x00model"
    assert storage.read_bytes("intent/v1/model.pkl") == b"\x00model"
    assert storage.exists("intent/v1/model.pkl") is True
    assert storage.exists("intent/v2/model.pkl") is False
    assert storage.list_artifacts() == ["intent/v1/meta.json", "intent/v1/model.pkl"]
    assert storage.list_artifacts("intent/v1/m") == ["intent/v1/meta.json", "intent/v1/model.pkl"]
    with pytest.raises(StorageNotFound, match=r"no S3 object 'models/prod/intent/v2/model\.pkl'"):
        storage.read_bytes("intent/v2/model.pkl")


def test_s3_artifacts_in_a_missing_bucket_say_so(s3, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ARTIFACTS_DIR = "s3://missing-bucket/models"
    with pytest.raises(StorageNotFound, match="S3 bucket 'missing-bucket' does not exist"):
        storage.exists("intent/v1/model.pkl")
    with pytest.raises(StorageNotFound, match="S3 bucket 'missing-bucket' does not exist"):
        storage.write_bytes("intent/v1/model.pkl", b"x")


def test_write_file_uploads_a_local_file(s3, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "vertices.csv"
    source.write_bytes(b"~id,~label\n")
    where = storage.folder("s3://journeys-in/export").write_file("vertices.csv", source)
    assert where == "s3://journeys-in/export/vertices.csv"
    assert s3.get_object(Bucket="journeys-in", Key="export/vertices.csv")["Body"].read() == b"~id,~label\n"
    local = storage.folder(tmp_path / "copy")
    local.write_file("v.csv", source)
    assert local.read_bytes("v.csv") == b"~id,~label\n"


def test_a_malformed_s3_url_is_refused() -> None:
    with pytest.raises(StorageError, match=r"not an S3 URL \(expected s3://bucket/key\): 's3:///key'"):
        storage.folder("s3:///key")


def test_open_uri_gives_a_stream_and_its_size(s3, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket="journeys-in", Key="a.ndjson", Body=b'{"a": 1}\n{"a": 2}\n')
    stream, size = storage.open_uri("s3://journeys-in/a.ndjson")
    with stream:
        assert (stream.read(), size) == (b'{"a": 1}\n{"a": 2}\n', 18)
    local = tmp_path / "a.ndjson"
    local.write_bytes(b"{}\n")
    stream, size = storage.open_uri(str(local))
    with stream:
        assert (stream.read(), size) == (b"{}\n", 3)


def test_full_locations_are_used_as_they_are(s3, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # given ARTIFACTS_DIR elsewhere, a caller that recorded full locations can still use them
    settings.ARTIFACTS_DIR = str(tmp_path / "elsewhere")
    local = str(tmp_path / "models" / "risk" / "v2.pkl")
    assert storage.write_bytes(local, b"local") == local
    assert storage.write_bytes("s3://journeys-in/models/risk/v2.pkl", b"remote") == (
        "s3://journeys-in/models/risk/v2.pkl")
    assert storage.read_bytes(local) == b"local"
    assert storage.read_bytes("s3://journeys-in/models/risk/v2.pkl") == b"remote"
    assert storage.exists("s3://journeys-in/models/risk/v2.pkl") is True
    assert storage.exists(str(tmp_path / "models" / "risk" / "v3.pkl")) is False
    assert storage.list_artifacts() == []


def test_an_s3_endpoint_that_never_answers_fails_within_the_read_deadline(aws_env, monkeypatch, settings) -> None:  # type: ignore[no-untyped-def]
    """The S3 client gets connect/read deadlines and a bounded number of attempts from settings."""
    import time

    from tests.netfixtures import BlackHole

    hole = BlackHole()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{hole.port}")
    settings.AWS_READ_TIMEOUT, settings.AWS_CONNECT_TIMEOUT, settings.AWS_MAX_ATTEMPTS = 0.5, 0.5, 1
    try:
        started = time.monotonic()
        with pytest.raises(StorageError, match="s3://journeys-in/day.csv"):
            storage.open_input("s3://journeys-in/day.csv")
        elapsed = time.monotonic() - started
    finally:
        hole.close()

    assert elapsed < 3.0
    assert storage.aws_config().read_timeout == 0.5
