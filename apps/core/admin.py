from django.contrib import admin

from apps.core.admin_mixins import AuditedAdminMixin
from apps.core.models import ApiKey, AuditEntry


@admin.register(ApiKey)
class ApiKeyAdmin(AuditedAdminMixin):
    """Revoking or renaming a key is audited like every other configuration change."""

    list_display = ["name", "prefix", "created", "last_used", "revoked"]
    list_filter = ["revoked"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created", "last_used"]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        """Keys are issued by `create_api_key`, which shows the secret once."""
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "user", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "object_id"]
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
