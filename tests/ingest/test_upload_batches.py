"""Each upload is its own input: another upload of a file with the same name leaves a running upload
alone, and a retry of the same upload after a crash resumes it (rows that landed are duplicates)."""
from __future__ import annotations

import pytest

from apps.events import maintenance
from apps.ingest import services
from apps.ingest import tasks as ingest_tasks
from apps.ingest.models import IngestBatch
from graph import journeys

pytestmark = pytest.mark.django_db


class Killed(BaseException):
    """Stands for the worker process being killed."""


def _csv(prefix: str, rows: int) -> bytes:
    lines = ["event_id,customer_id,event_type,channel,timestamp"]
    lines += [f"{prefix}{n},c{n},login,web,2026-03-01T10:{n:02d}:00Z" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def test_a_second_upload_with_the_same_name_leaves_the_running_one_alone_and_a_retry_resumes_it(
        settings, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings.JOB_UPLOAD_DIR = str(tmp_path / "uploads")
    settings.INGEST_CHUNK_SIZE = 4
    first = ingest_tasks.save_upload(chunks=[_csv("a", 10)], name="calls.csv")
    second = ingest_tasks.save_upload(chunks=[_csv("b", 3)], name="calls.csv")
    # given the first upload's worker killed after its first chunk reached the graph
    real = services._write_chunk  # noqa: SLF001
    calls = []

    def write_chunk(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise Killed
        real(*args, **kwargs)
    with monkeypatch.context() as patch:
        patch.setattr(services, "_write_chunk", write_chunk)
        with pytest.raises(Killed):
            ingest_tasks.ingest_upload(str(first), "csv")
    running = IngestBatch.objects.get()
    landed = journeys.graph_counts()["event"]  # the first chunk, and those the graph writer wrote ahead
    assert (running.source, running.status, running.loaded) == ("upload:calls.csv", "running", 4)
    assert 4 <= landed <= 10

    # when another file named calls.csv is uploaded and loaded
    other = IngestBatch.objects.get(pk=ingest_tasks.ingest_upload(str(second), "csv"))

    # then it is a batch of its own that leaves the first one running
    assert (other.source, other.status, other.loaded) == ("upload:calls.csv", "completed", 3)
    running.refresh_from_db()
    assert running.status == "running"

    # when the first upload's job is retried (same saved file)
    resumed = IngestBatch.objects.get(pk=ingest_tasks.ingest_upload(str(first), "csv"))

    # then its crashed run is marked interrupted, the rows that landed are duplicates, the rest load
    running.refresh_from_db()
    assert running.status == "interrupted"
    assert (resumed.status, resumed.loaded, resumed.duplicates) == ("completed", 10 - landed, landed)
    assert journeys.graph_counts()["event"] == 13
    assert maintenance.check().equal
