"""Reads of ingest bookkeeping."""
from __future__ import annotations

from django.db.models import QuerySet

from apps.ingest.models import IngestBatch, QuarantinedRow


def batches() -> QuerySet[IngestBatch]:
    return IngestBatch.objects.all()


def quarantine(batch_id: int) -> QuerySet[QuarantinedRow]:
    return QuarantinedRow.objects.filter(batch_id=batch_id).order_by("row_number")


def running_batch_counts() -> dict[str, int]:
    """Batches still running (what a metrics scrape reports as the ingest queue)."""
    return {"running": IngestBatch.objects.filter(status=IngestBatch.Status.RUNNING).count()}
