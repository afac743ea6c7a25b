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
    gate = models.JSONField(default=dict, blank=True,
                            help_text="The activation gate's verdict when the version was registered.")

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
    process = models.CharField(max_length=300, blank=True, default="",
                               help_text="host:pid:start (its start time in clock ticks since boot) of the "
                                         "`manage.py train` process training it in the foreground (empty: a job)")

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    class Meta:
        ordering = ["-created"]
        constraints = [
            # One run per model at a time: two would race for the next version number and, on SQLite,
            # for the write lock. The database enforces it, so two requests at the same moment cannot both pass.
            models.UniqueConstraint(fields=["model_name"], condition=models.Q(status__in=["queued", "running"]),
                                    name="one_active_training_per_model"),
        ]

    def __str__(self) -> str:
        return f"train {self.model_name} [{self.status}] {self.progress:.0%}"


DEFAULT_MARGIN = 0.001
ANY_MODEL = "*"


class ActivationPolicy(models.Model):
    """How much better than its baseline a new version must score on its own holdout to become active.

    One row per model name, or `*` for every model without its own row. Decisions serve a model only
    while its active version passes this gate, so a change here takes effect on the next decision."""

    model_name = models.CharField(max_length=64, unique=True, default=ANY_MODEL,
                                  help_text="Model name (risk, intent, next_event, ...) or * for any other.")
    margin = models.FloatField(default=DEFAULT_MARGIN,
                               help_text="The gate metric must exceed the best baseline's by at least this much "
                                         "(0 = any strict improvement).")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model_name"]
        verbose_name_plural = "activation policies"

    def __str__(self) -> str:
        return f"{self.model_name}: beat the baseline by ≥ {self.margin}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        self.model_name = self.model_name.strip()
        if not 0.0 <= self.margin <= 1.0:
            raise ValidationError({"margin": f"must lie between 0 and 1, got {self.margin}"})

    def save(self, *args: object, **kwargs: object) -> None:
        self.full_clean()
        super().save(*args, **kwargs)  # type: ignore[arg-type]
        from apps.propensity.registry import clear_cache

        clear_cache()

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        result = super().delete(*args, **kwargs)  # type: ignore[arg-type]
        from apps.propensity.registry import clear_cache

        clear_cache()
        return result
