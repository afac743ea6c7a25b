"""Ingest's background jobs (apps.core.jobs): a file uploaded on the dashboard is saved where the worker
can read it and loaded by a job, so a 50 MB upload never holds a web worker. The `ingest` command and
the API call the same service (apps.ingest.services.ingest_file)."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings

from apps.core import jobs
from apps.core.models import Job
from apps.ingest.models import IngestBatch
from apps.ingest.services import ingest_file

log = logging.getLogger(__name__)


def save_upload(*, chunks: Iterable[bytes], name: str) -> Path:
    """Write an upload under JOB_UPLOAD_DIR, in a folder of its own (two uploads may share a name)."""
    folder = Path(settings.JOB_UPLOAD_DIR) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    path = folder / (Path(name).name or "upload")
    with path.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
    return path


def queue_upload(*, chunks: Iterable[bytes], name: str, fmt: str) -> Job:
    path = save_upload(chunks=chunks, name=name)
    return jobs.enqueue(ingest_upload, str(path), fmt, kind="ingest_upload", ref=str(path))


def ingest_upload(path: str, fmt: str) -> int:
    """Load the saved upload, then remove it; a file that cannot be read at all fails at once (no retry).
    The batch is named after the uploaded file; its input key is the upload itself (the folder it was
    saved in), so a retry of this job resumes its own earlier run and no other upload's."""
    from apps.conversations.services import FORMATS as CONVERSATION_FORMATS
    from apps.conversations.services import ingest_conversations

    name = f"upload:{Path(path).name}"  # the file's name, not the copy's
    key = f"upload:{Path(path).parent.name}/{Path(path).name}"  # this upload (its own folder), retried or not
    try:
        if fmt in CONVERSATION_FORMATS:  # one Contact Lens analysis or transcript file
            batch = ingest_conversations(uri=path, fmt=fmt, name=name)
        else:
            batch = ingest_file(uri=path, fmt=fmt, name=name, key=key, progress=_log_progress)
    except (ValueError, FileNotFoundError) as exc:
        _remove(Path(path))
        raise jobs.Permanent(f"{Path(path).name}: {exc}") from exc
    _remove(Path(path))
    log.info("upload %s: batch %s, %s loaded, %s quarantined", Path(path).name, batch.pk, batch.loaded,
             batch.quarantined)
    return batch.pk


def _log_progress(batch: IngestBatch) -> None:
    """A line per chunk, so an operator following the worker's log sees a long upload advance."""
    log.info("ingest batch %s: %s rows read, %s loaded, %s duplicates", batch.pk, batch.rows_read, batch.loaded,
             batch.duplicates)


def batch_of(job: Job) -> IngestBatch | None:
    """The batch an upload job produced (its result: none until the worker has loaded it)."""
    return IngestBatch.objects.filter(pk=job.result).first() if isinstance(job.result, int) else None


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()
    except OSError:
        pass
