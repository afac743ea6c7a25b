"""Decision configuration (intent thresholds, risk rules) and the log of every decision made.

Configuration lives here, not in code, because contact-centre leads tune routing without a release;
every change is audited by the admin. The log feeds the decision monitor and the replay metrics.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from apps.decisions import config_cache
from apps.decisions.rules import OUTCOMES, RuleError, validate_conditions

DEFAULT_HIGH = 0.8
DEFAULT_LOW = 0.6
ANY_CHANNEL = "*"


class CachedConfig(models.Model):
    """Configuration the decision path keeps in memory: validated on every save (admin, API, shell),
    and the cache cleared on any change so the next decision sees it."""

    class Meta:
        abstract = True

    def save(self, *args: object, **kwargs: object) -> None:
        self.full_clean()
        super().save(*args, **kwargs)  # type: ignore[arg-type]
        config_cache.clear()

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        result = super().delete(*args, **kwargs)  # type: ignore[arg-type]
        config_cache.clear()
        return result


class IntentThreshold(CachedConfig):
    """Confidence thresholds per channel: ≥ high → confirm, ≥ low → suggest, else the full menu."""

    channel = models.CharField(max_length=20, unique=True,
                               help_text="Connect channel (VOICE, CHAT, TASK, EMAIL) or * for any other.")
    high = models.FloatField(default=DEFAULT_HIGH)
    low = models.FloatField(default=DEFAULT_LOW)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel"]

    def __str__(self) -> str:
        return f"{self.channel}: confirm ≥ {self.high}, suggest ≥ {self.low}"

    def clean(self) -> None:
        if not 0.0 <= self.low <= self.high <= 1.0:
            raise ValidationError({"low": f"need 0 ≤ low ≤ high ≤ 1, got low={self.low}, high={self.high}"})
        self.channel = self.channel.strip().upper()


class RiskRule(CachedConfig):
    """One ordered routing rule: if all conditions hold, the call gets the outcome. First match wins."""

    position = models.PositiveIntegerField(help_text="Rules are tried in ascending position.")
    name = models.CharField(max_length=100)
    conditions = models.JSONField(default=list, blank=True,
                                  help_text='JSON list of {"variable", "op", "value"}; all must hold; '
                                            "an empty list always matches.")
    outcome = models.CharField(max_length=40, choices=[(o, o) for o in OUTCOMES])
    enabled = models.BooleanField(default=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.name} → {self.outcome}"

    def clean(self) -> None:
        try:
            self.conditions = validate_conditions(self.conditions)
        except RuleError as exc:
            raise ValidationError({"conditions": str(exc)}) from exc
        if self.outcome not in OUTCOMES:
            raise ValidationError({"outcome": f"unknown outcome {self.outcome!r}; choose one of {list(OUTCOMES)}"})


class DecisionLog(models.Model):
    """What was asked, what was answered, by which model version and how fast."""

    class Kind(models.TextChoices):
        INTENT = "intent"
        RISK = "risk"
        FEEDBACK = "feedback"

    kind = models.CharField(max_length=10, choices=Kind.choices, db_index=True)
    contact_id = models.CharField(max_length=100, blank=True, default="", db_index=True)
    customer_id = models.CharField(max_length=200, blank=True, default="")
    channel = models.CharField(max_length=20, blank=True, default="")
    inputs = models.JSONField(default=dict, blank=True)
    output = models.JSONField(default=dict, blank=True)
    model_version = models.CharField(max_length=64, blank=True, default="")
    latency_ms = models.FloatField(default=0.0)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["kind", "created"], name="decisions_log_kind_created")]

    def __str__(self) -> str:
        route = self.output.get("action") or self.output.get("outcome", "")
        return f"{self.kind} {self.contact_id or self.customer_id} → {route}"
