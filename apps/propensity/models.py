"""Registry records: every trained model version and every training run.

The model files themselves live under ARTIFACTS_DIR; the database keeps what a person needs to judge
and choose a version (window, features, metrics beside the baseline, who trained it, which is active).
"""
from __future__ import annotations

from django.db import models


class ModelVersion(models.Model):
    """One trained, immutable version of a named model; exactly one version per name is active."""

    name = models.CharField(max_length=64, db_index=True)
    version = models.PositiveIntegerField()
    artifact = models.CharField(max_length=500, help_text="Path or s3:// URL of the serialized model.")
    sha256 = models.CharField(max_length=64)
    train_start = models.DateTimeField(null=True, blank=True)
    train_end = models.DateTimeField(null=True, blank=True)
    features = models.JSONField(default=list, blank=True)
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    baseline_metrics = models.JSONField(default=dict, blank=True)
    calibration = models.JSONField(null=True, blank=True)
    trained_by = models.CharField(max_length=150, default="system")
    created = models.DateTimeField(auto_now_add=True)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    rolled_back = models.BooleanField(
        default=False, help_text="Left by a rollback; skipped by later rollbacks until activated again.")

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="propensity_model_version_unique"),
            models.UniqueConstraint(fields=["name"], condition=models.Q(is_active=True),
                                    name="propensity_one_active_per_name"),
        ]
        indexes = [models.Index(fields=["name", "is_active"], name="propensity_active_idx")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}{' (active)' if self.is_active else ''}"


class TrainingRun(models.Model):
    """A training job, so a background run can be watched and a failure explained."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    model_name = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0..1")
    message = models.CharField(max_length=500, blank=True, default="")
    since = models.DateTimeField(null=True, blank=True)
    until = models.DateTimeField(null=True, blank=True)
    options = models.JSONField(default=dict, blank=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    trained_by = models.CharField(max_length=150, default="system")
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"train {self.model_name} [{self.status}] {self.progress:.0%}"
