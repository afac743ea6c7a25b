"""Dashboard uploads go through the job queue: the request only saves the file and queues the job;
the Ingest page shows the job until the worker has loaded it (errors to admins only)."""
from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_q.conf import Conf
from django_q.models import OrmQ

from apps.core import jobs
from apps.core.models import Job
from apps.ingest.models import IngestBatch
from tests.dashboard.test_pages import BAD_ROW_CSV


def test_an_upload_is_queued_then_loaded_by_the_worker(analyst: Client, monkeypatch,
                                                       django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(Conf, "SYNC", False)  # as in production: a worker process runs the queue
    upload = SimpleUploadedFile("calls.csv", BAD_ROW_CSV.encode(), content_type="text/csv")

    # when an analyst uploads a file while no worker is running
    with django_capture_on_commit_callbacks(execute=True):
        response = analyst.post("/ingest/upload/", {"file": upload, "format": "csv"}, follow=True)

    # then the file waits with its job on the queue, and the page says so
    job = Job.objects.get()
    saved = Path(job.args[0])
    assert (job.kind, job.status, job.args[1], saved.name) == ("ingest_upload", "queued", "csv", "calls.csv")
    assert saved.read_text() == BAD_ROW_CSV
    assert OrmQ.objects.count() == 1
    assert IngestBatch.objects.count() == 0
    html = response.content.decode()
    assert f"Queued calls.csv as job {job.pk}: its batch appears below once a worker starts it" in html
    assert 'hx-trigger="every 3s"' in html  # the page refreshes itself while the job waits

    # when the worker runs it
    assert jobs.execute(job.pk) == "succeeded"

    # then the batch landed (the bad row quarantined), the job succeeded and the file is gone
    batch = IngestBatch.objects.get()
    job.refresh_from_db()
    assert (batch.rows_read, batch.loaded, batch.quarantined) == (3, 2, 1)
    assert (job.status, job.attempts, job.result) == ("succeeded", 1, batch.pk)
    assert not saved.exists()


def test_a_failed_upload_job_shows_its_reason_to_admins_only(viewer: Client, admin_client_: Client,
                                                              tmp_path) -> None:  # type: ignore[no-untyped-def]
    from apps.ingest.tasks import ingest_upload

    job = jobs.enqueue(ingest_upload, str(tmp_path / "gone.csv"), "csv", kind="ingest_upload")

    admin_rows = admin_client_.get("/ingest/?format=csv&table=jobs").content.decode().splitlines()
    viewer_rows = viewer.get("/ingest/?format=csv&table=jobs").content.decode().splitlines()

    assert admin_rows[1].split(",")[:4] == [str(job.pk), "ingest_upload", "failed", "1/3"]
    assert admin_rows[1].endswith(f"gone.csv: input file not found: {tmp_path / 'gone.csv'}")
    assert viewer_rows[1].endswith(",see an admin")
