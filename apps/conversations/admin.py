"""Admin: category rules for local analytics (audited on every change), contacts read-only."""
from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from apps.conversations.models import CategoryRule, Contact, ContactCategory, Turn
from apps.core.admin_mixins import AuditedAdminMixin


@admin.register(CategoryRule)
class CategoryRuleAdmin(AuditedAdminMixin):
    list_display = ("category", "speaker", "where", "seconds", "negate", "active")
    list_editable = ("active",)
    list_filter = ("speaker", "where", "negate", "active")
    search_fields = ("category", "phrases")


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class TurnInline(_ReadOnly, admin.TabularInline):
    model = Turn
    fields = ("begin_ms", "role", "sentiment", "score", "content")
    extra = 0


class CategoryInline(_ReadOnly, admin.TabularInline):
    model = ContactCategory
    fields = ("name", "points")
    extra = 0


@admin.register(Contact)
class ContactAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("contact_id", "customer_id", "channel", "queue", "agent", "started_at", "sentiment_customer",
                    "analysis_source", "attached")
    list_filter = ("channel", "analysis_source", "has_record", "attached")
    search_fields = ("contact_id", "customer_id", "agent", "queue")
    inlines = [CategoryInline, TurnInline]
