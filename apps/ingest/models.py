"""Ingest bookkeeping: every batch is recorded, and every bad row is kept with its reason."""
from __future__ import annotations

from typing import Any

from django.db import models

from apps.core.fields import OrderedJSONField


class IngestBatch(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"
        INTERRUPTED = "interrupted"

    source = models.CharField(max_length=500, db_index=True)
    input_key = models.CharField(max_length=500, db_index=True, blank=True, help_text=(
        "the input this batch ran: batches with the same key are runs of the same input, so a new run "
        "resumes one that never finished (the source, or an upload's own id: two uploads may share a name)"))
    format = models.CharField(max_length=20)  # csv, json, ndjson, ctr, contact-lens, transcript
    mapping = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING, db_index=True)
    rows_read = models.PositiveIntegerField(default=0)
    loaded = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0, help_text="events sent again with changed content (a "
                                          "re-delivered contact record) and updated in place")
    quarantined = models.PositiveIntegerField(default=0)
    customers_created = models.PositiveIntegerField(default=0)
    bytes_total = models.BigIntegerField(null=True, blank=True)
    bytes_read = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    started = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started", "-id"]
        verbose_name_plural = "ingest batches"

    def __str__(self) -> str:
        return f"#{self.pk} {self.source} ({self.status})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.input_key = self.input_key or self.source  # a file or a feed is known by its source
        super().save(*args, **kwargs)

    @property
    def progress(self) -> float | None:
        """Share of the input read, when the input size is known."""
        if self.status == self.Status.COMPLETED:
            return 1.0
        if not self.bytes_total:
            return None
        return round(min(self.bytes_read / self.bytes_total, 1.0), 4)


class QuarantinedRow(models.Model):
    batch = models.ForeignKey(IngestBatch, related_name="quarantined_rows", on_delete=models.CASCADE)
    row_number = models.PositiveIntegerField()
    reason = models.CharField(max_length=500)
    raw = OrderedJSONField(default=dict, blank=True)  # the row's columns in file order

    class Meta:
        ordering = ["batch", "row_number"]

    def __str__(self) -> str:
        return f"batch {self.batch_id} row {self.row_number}: {self.reason}"
