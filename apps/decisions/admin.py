"""Admin for routing configuration (audited on every change) and a read-only decision log."""
from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from apps.core.admin_mixins import AuditedAdminMixin
from apps.decisions.models import DecisionLog, IntentThreshold, RiskRule


@admin.register(IntentThreshold)
class IntentThresholdAdmin(AuditedAdminMixin):
    list_display = ("channel", "high", "low", "updated")
    list_editable = ("high", "low")


@admin.register(RiskRule)
class RiskRuleAdmin(AuditedAdminMixin):
    list_display = ("position", "name", "conditions", "outcome", "enabled", "updated")
    list_display_links = ("name",)
    list_editable = ("position", "enabled")
    list_filter = ("outcome", "enabled")


@admin.register(DecisionLog)
class DecisionLogAdmin(admin.ModelAdmin):
    list_display = ("created", "kind", "contact_id", "customer_id", "channel", "model_version", "latency_ms")
    list_filter = ("kind", "channel", "model_version")
    search_fields = ("contact_id", "customer_id")
    date_hierarchy = "created"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
