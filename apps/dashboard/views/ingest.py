"""Ingest page: batches with progress and counts, quarantined rows with reasons, file upload."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.core import jobs
from apps.core.models import Job
from apps.dashboard.roles import ADMIN, ANALYST, VIEWER, has_role, role_required
from apps.dashboard.tables import Column, Table
from apps.dashboard.views.common import choice_or_default, not_found, page
from apps.ingest import tasks as ingest_tasks
from apps.ingest.models import IngestBatch, QuarantinedRow

FORMATS = ("csv", "json", "ndjson", "ctr", "contact-lens", "transcript")
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
BATCH_COLUMNS = [Column("id", "Batch", True), Column("source", "Source"), Column("format", "Format"),
                 Column("status", "Status"), Column("progress", "Progress %", True),
                 Column("rows_read", "Rows read", True), Column("loaded", "Loaded", True),
                 Column("duplicates", "Duplicates", True), Column("quarantined", "Quarantined", True),
                 Column("started", "Started"), Column("finished", "Finished")]
QUARANTINE_COLUMNS = [Column("batch", "Batch", True), Column("row_number", "Row", True), Column("reason", "Reason"),
                      Column("raw", "Row content")]


JOB_COLUMNS = [Column("id", "Job", True), Column("kind", "Kind"), Column("status", "Status"),
               Column("attempts", "Attempts", True), Column("created", "Queued"), Column("finished", "Finished"),
               Column("error", "Error")]


def job_row(job: Job, *, admin: bool) -> dict[str, Any]:
    """A failed job's reason is for admins (it can name files and hosts); others see that it failed."""
    error = (job.error.splitlines()[0] if job.error else "") if admin else ("see an admin" if job.error else "")
    return {"id": job.pk, "kind": job.kind, "status": job.status, "attempts": f"{job.attempts}/{job.max_attempts}",
            "created": f"{job.created:%Y-%m-%d %H:%M:%S}",
            "finished": f"{job.finished:%Y-%m-%d %H:%M:%S}" if job.finished else "", "error": error}


def batch_row(b: Any) -> dict[str, Any]:
    progress = b.progress
    return {"id": b.pk, "source": b.source, "format": b.format, "status": b.status,
            "progress": None if progress is None else round(progress * 100, 1), "rows_read": b.rows_read,
            "loaded": b.loaded, "duplicates": b.duplicates, "quarantined": b.quarantined,
            "started": f"{b.started:%Y-%m-%d %H:%M:%S}" if b.started else "",
            "finished": f"{b.finished:%Y-%m-%d %H:%M:%S}" if b.finished else "",
            "url": reverse("dashboard:ingest_batch", args=[b.pk])}


def quarantine_row(q: Any) -> dict[str, Any]:
    raw = ", ".join(f"{k}={v}" for k, v in (q.raw or {}).items()) if isinstance(q.raw, dict) else str(q.raw)
    return {"batch": q.batch_id, "row_number": q.row_number, "reason": q.reason, "raw": raw}


@role_required(VIEWER)
def ingest(request: HttpRequest) -> HttpResponse:
    batches_model, rows_model = IngestBatch, QuarantinedRow
    statuses = [c[0] for c in batches_model.Status.choices]
    status, errors = choice_or_default(request, "status", statuses, "", shown="batches of any status")
    batches = batches_model.objects.all()
    if status:
        batches = batches.filter(status=status)
    batch_table = Table("batches", "Ingest batches, newest first", BATCH_COLUMNS,
                        [batch_row(b) for b in batches[:100]], links={"id": "url"})
    quarantined = rows_model.objects.select_related("batch").order_by("-batch_id", "row_number")[:200]
    q_table = Table("quarantine", "Quarantined rows (latest 200) with their reasons", QUARANTINE_COLUMNS,
                    [quarantine_row(q) for q in quarantined])
    admin = has_role(request.user, ADMIN)
    job_title = ("Background jobs (uploads, training, backfills, KPI recomputes, webhook delivery, "
                 "event store copies and compaction), newest first")
    job_table = Table("jobs", job_title, JOB_COLUMNS, [job_row(j, admin=admin) for j in jobs.recent(50)])
    running = sum(1 for row in batch_table.rows if row["status"] == "running")
    running += sum(1 for row in job_table.rows if row["status"] in ("queued", "running", "retrying"))
    context = {"title": "Ingest", "batches": batch_table, "quarantine": q_table, "formats": FORMATS, "running": running,
               "status": status, "statuses": statuses, "jobs": job_table, "errors": errors}
    return page(request, "dashboard/ingest.html", context,
                tables={"batches": batch_table, "quarantine": q_table, "jobs": job_table})


@role_required(VIEWER)
def batch(request: HttpRequest, batch_id: int) -> HttpResponse:
    found = IngestBatch.objects.filter(pk=batch_id).first()
    if found is None:
        return not_found(request, f"No ingest batch {batch_id}.")
    q_table = Table(f"batch-{batch_id}-quarantine", f"Quarantined rows of batch {batch_id}", QUARANTINE_COLUMNS,
                    [quarantine_row(q) for q in found.quarantined_rows.all()])
    context = {"title": f"Batch {batch_id}", "batch": batch_row(found), "error": found.error, "quarantine": q_table}
    return page(request, "dashboard/batch.html", context, tables={"quarantine": q_table})


@require_POST
@role_required(ANALYST)
def upload(request: HttpRequest) -> HttpResponse:
    back = HttpResponseRedirect(reverse("dashboard:ingest"))
    uploaded = request.FILES.get("file")
    fmt = request.POST.get("format") or ""
    if uploaded is None:
        messages.error(request, "upload: choose a file to load")
        return back
    name = uploaded.name or "upload"
    if not fmt:
        fmt = Path(name).suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        messages.error(request, f"upload: format must be one of {', '.join(FORMATS)}, got {fmt!r} ({name})")
        return back
    if uploaded.size and uploaded.size > MAX_UPLOAD_BYTES:
        messages.error(request, f"upload: {name} is larger than {MAX_UPLOAD_BYTES // 1_048_576} MB; "
                                "use `python manage.py ingest` for big files")
        return back
    job = ingest_tasks.queue_upload(chunks=uploaded.chunks(), name=name, fmt=fmt)
    job.refresh_from_db()
    if job.status == job.Status.FAILED:
        messages.error(request, f"upload: {job.error.splitlines()[0] if job.error else name}")
        return back
    found = ingest_tasks.batch_of(job)
    if found is not None and job.status == job.Status.SUCCEEDED:
        messages.success(request, f"Loaded {name}: rows read {found.rows_read} loaded {found.loaded} "
                                  f"duplicates {found.duplicates} quarantined {found.quarantined}")
        return HttpResponseRedirect(reverse("dashboard:ingest_batch", args=[found.pk]))
    messages.success(request, f"Queued {name} as job {job.pk}: its batch appears below once a worker starts it")
    return back
