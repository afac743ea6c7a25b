"""Admin for journey analytics: KPI and milestone definitions are edited here (audited); stored KPI
values, reaches and webhook deliveries are read-only records."""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.admin_mixins import AuditedAdminMixin
from apps.journeys import tasks, webhooks
from apps.journeys.models import (
    KpiDefinition,
    KpiValue,
    MilestoneDefinition,
    MilestoneReach,
    Webhook,
    WebhookDelivery,
)
from apps.journeys.signals import reach_history_refusal


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(KpiDefinition)
class KpiDefinitionAdmin(AuditedAdminMixin):
    list_display = ["name", "slug", "kind", "unit", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    actions = ["recompute"]

    @admin.action(description="Recompute stored values from all events")
    def recompute(self, request: HttpRequest, queryset: QuerySet[KpiDefinition]) -> None:
        job = tasks.queue_kpi_recompute(slugs=list(queryset.values_list("slug", flat=True)))
        self.message_user(request, f"Recompute queued as job {job.pk} (status on the Ingest page)")


@admin.register(KpiValue)
class KpiValueAdmin(ReadOnlyAdmin):
    list_display = ["definition", "period", "period_start", "dimension", "dimension_value", "value", "numerator",
                    "denominator", "computed_at"]
    list_filter = ["definition", "period", "dimension"]
    date_hierarchy = "period_start"


@admin.register(MilestoneDefinition)
class MilestoneDefinitionAdmin(AuditedAdminMixin):
    list_display = ["name", "slug", "trigger", "active", "created_at"]
    list_filter = ["trigger", "active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    actions = ["backfill"]

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """Milestones customers reached are shown as protected, so the admin refuses to delete them."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        refusals = [reason for obj in objs if (reason := reach_history_refusal(obj))]
        return deleted, counts, perms_needed, [*protected, *refusals]

    @admin.action(description="Apply to the whole history (backfill)")
    def backfill(self, request: HttpRequest, queryset: QuerySet[MilestoneDefinition]) -> None:
        job = tasks.queue_backfill(slugs=list(queryset.values_list("slug", flat=True)))
        self.message_user(request, f"Backfill queued as job {job.pk} (status on the Ingest page)")


@admin.register(MilestoneReach)
class MilestoneReachAdmin(ReadOnlyAdmin):
    list_display = ["milestone", "customer_id", "ts", "event_id", "created_at"]
    list_filter = ["milestone"]
    search_fields = ["customer_id", "event_id"]


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ("event", "status", "attempts", "last_status_code", "next_attempt_at", "created_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    ordering = ["-created_at"]


@admin.register(Webhook)
class WebhookAdmin(AuditedAdminMixin):
    audit_secrets = ("secret",)
    # an address typed without its scheme is taken as https (Django 6's default; 5.2's was http)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "url", "active", "created_at"]
    list_filter = ["active"]
    filter_horizontal = ["milestones"]
    inlines = [DeliveryInline]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["webhook", "event", "status", "attempts", "last_status_code", "next_attempt_at", "created_at"]
    list_filter = ["status", "webhook"]
    actions = ["deliver_now"]

    @admin.action(description="Deliver due payloads now")
    def deliver_now(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        report = webhooks.deliver_due()
        self.message_user(request, f"{report.delivered} delivered, {report.rescheduled} rescheduled, "
                                   f"{report.failed} failed", messages.INFO)
