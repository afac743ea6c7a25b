"""Configuration and operations of journey analytics: KPI definitions and their stored values,
milestone definitions and reaches, webhooks and their deliveries. Interactions live in the graph."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from apps.journeys.analyzers.kpis import KpiParams


class KpiDefinition(models.Model):
    """A KPI people can tune in admin; `params` holds the knobs of its kind (see KpiParams)."""

    class Kind(models.TextChoices):
        CONTACTS_PER_CUSTOMER = "contacts_per_customer", "contacts per customer"
        REPEAT_CONTACT = "repeat_contact", "repeat contact within N days"
        CHANNEL_SWITCHES = "channel_switches", "channel switches before resolution"
        TIME_TO_RESOLUTION = "time_to_resolution", "time to resolution (hours)"
        MILESTONE_CONVERSION = "milestone_conversion", "conversion rate to a milestone"
        ABANDONMENT = "abandonment", "abandonment rate"

    name = models.CharField(max_length=120)
    slug = models.SlugField(unique=True)
    kind = models.CharField(max_length=40, choices=Kind.choices)
    description = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True,
                              help_text='e.g. {"window_days": 7, "event_types": ["call", "chat"]}; '
                                        'milestone_conversion needs {"milestone": "<slug>"}')
    unit = models.CharField(max_length=20, blank=True, help_text="shown next to the value, e.g. h or %")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            KpiParams.from_json(self.params or {})
        except (TypeError, ValueError) as exc:
            raise ValidationError({"params": str(exc)}) from exc
        if self.kind == "milestone_conversion" and not (self.params or {}).get("milestone"):
            raise ValidationError({"params": 'milestone_conversion needs {"milestone": "<slug>"}'})


class KpiValue(models.Model):
    """One computed value of a KPI for a period, overall or for one channel / segment."""

    class Period(models.TextChoices):
        DAY = "day"
        WEEK = "week"

    class Dimension(models.TextChoices):
        ALL = "all"
        CHANNEL = "channel"
        SEGMENT = "segment"

    definition = models.ForeignKey(KpiDefinition, on_delete=models.CASCADE, related_name="values")
    period = models.CharField(max_length=8, choices=Period.choices)
    period_start = models.DateField()
    dimension = models.CharField(max_length=10, choices=Dimension.choices, default="all")
    dimension_value = models.CharField(max_length=120, blank=True, default="")
    value = models.FloatField()
    numerator = models.FloatField()
    denominator = models.FloatField()
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["definition", "period", "period_start", "dimension", "dimension_value"]
        constraints = [models.UniqueConstraint(
            fields=["definition", "period", "period_start", "dimension", "dimension_value"], name="kpi_value_unique")]
        indexes = [models.Index(fields=["definition", "period", "dimension", "period_start"])]


def kpi_slice_error(dimension: str, value: str) -> str | None:
    """What is wrong with a KPI slice asked for (shared by the API's series and the dashboard's widget),
    or None. A value without a dimension was answered with the overall series, as if not given."""
    if dimension != KpiValue.Dimension.ALL and not value:
        return f"name the {dimension} to show"
    if dimension == KpiValue.Dimension.ALL and value:
        return f"{value!r} needs a dimension (channel or segment) to belong to"
    return None


class KpiStaleDay(models.Model):
    """A day whose KPI values must be recomputed because events for it arrived."""

    day = models.DateField(unique=True)
    marked_at = models.DateTimeField(auto_now_add=True)


class MilestoneDefinition(models.Model):
    """A business milestone and the trigger that marks a customer as having reached it."""

    class Trigger(models.TextChoices):
        EVENT_TYPE = "event_type", "event type"
        SEQUENCE = "sequence", "sequence of types within a window"
        ATTRIBUTE = "attribute", "attribute condition"

    class Op(models.TextChoices):
        EQ = "eq", "equals"
        NE = "ne", "differs from"
        GT = "gt", "greater than"
        GTE = "gte", "at least"
        LT = "lt", "less than"
        LTE = "lte", "at most"
        CONTAINS = "contains", "contains"
        EXISTS = "exists", "is present"

    name = models.CharField(max_length=120)
    slug = models.SlugField(unique=True)
    trigger = models.CharField(max_length=12, choices=Trigger.choices)
    event_type = models.CharField(max_length=120, blank=True, help_text="for trigger 'event type'")
    sequence = models.JSONField(default=list, blank=True, help_text='types in order, e.g. ["cart", "purchase"]')
    window_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="sequence must complete within")
    attribute = models.CharField(max_length=120, blank=True,
                                 help_text="event attribute key, or channel / intent / outcome / type")
    op = models.CharField(max_length=10, choices=Op.choices, blank=True)
    value = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = trigger_errors(self.trigger, self.event_type, self.sequence, self.attribute, self.op)
        if errors:
            raise ValidationError(errors)


def trigger_errors(trigger: str, event_type: str, sequence: Any, attribute: str, op: str) -> dict[str, str]:
    """What a trigger is missing, by field (shared by admin forms and the API serializer)."""
    if trigger == "event_type" and not event_type:
        return {"event_type": "an event-type trigger needs event_type"}
    if trigger == "sequence" and (not isinstance(sequence, list) or len(sequence) < 2
                                  or not all(isinstance(t, str) and t for t in sequence)):
        return {"sequence": "a sequence trigger needs a list of at least two event types"}
    if trigger == "attribute" and not (attribute and op):
        return {"attribute": "an attribute trigger needs attribute and op"}
    return {}


class MilestoneReach(models.Model):
    """The first time a customer reached a milestone (at most one row per pair: reached once)."""

    milestone = models.ForeignKey(MilestoneDefinition, on_delete=models.CASCADE, related_name="reaches")
    customer_id = models.CharField(max_length=200)
    ts = models.BigIntegerField(help_text="epoch ms of the event that completed the trigger")
    event_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["milestone", "ts", "customer_id"]
        constraints = [models.UniqueConstraint(fields=["milestone", "customer_id"], name="milestone_reached_once")]


class Webhook(models.Model):
    """An endpoint that receives signed POSTs when customers reach milestones."""

    name = models.CharField(max_length=120)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200, help_text="HMAC-SHA256 key for the X-JourneyHub-Signature header")
    active = models.BooleanField(default=True)
    milestones = models.ManyToManyField(MilestoneDefinition, blank=True, related_name="webhooks",
                                        help_text="leave empty for every milestone")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Refuse targets inside the hub's own network (see apps.journeys.webhook_transport)."""
        from apps.journeys.webhook_transport import UnsafeTarget, check_url

        try:
            check_url(self.url)
        except UnsafeTarget as exc:
            raise ValidationError({"url": str(exc)}) from exc


class WebhookDelivery(models.Model):
    """One payload for one webhook; failed attempts are rescheduled with backoff (next_attempt_at)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=60, default="milestone.reached")
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default="pending")
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
