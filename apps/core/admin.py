from typing import Any

from django import forms
from django.contrib import admin

from apps.core.admin_mixins import AuditedAdminMixin
from apps.core.models import ApiKey, AuditEntry, Job, Lease, Scope


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, required=False, widget=forms.CheckboxSelectMultiple,
                                       help_text="what the key may do; none: nothing")

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "expires", "revoked"]

    def clean_scopes(self) -> list[str]:
        return sorted(self.cleaned_data.get("scopes") or [])


@admin.register(ApiKey)
class ApiKeyAdmin(AuditedAdminMixin):
    """Revoking, re-scoping or renaming a key is audited like every other configuration change."""

    form = ApiKeyForm
    audit_fields = ("name", "scopes", "expires", "revoked")
    list_display = ["name", "prefix", "scope_list", "expires", "created", "last_used", "revoked"]
    list_filter = ["revoked"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created", "last_used"]

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes or []) or "–"

    def has_add_permission(self, request: Any) -> bool:
        """Keys are issued by `create_api_key`, which shows the secret once."""
        return False


class RecordAdmin(admin.ModelAdmin):
    """Records the product writes itself (the audit log, jobs, leases): listed and read, never added or
    edited from the admin."""

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(RecordAdmin):
    list_display = ["at", "actor", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "object_id", "actor"]
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        """The log is evidence: nobody edits or deletes it from the admin."""
        return False


@admin.register(Job)
class JobAdmin(RecordAdmin):
    """Background jobs, read-only: the worker writes them; a failed one is queued again by its owner."""

    list_display = ["id", "kind", "ref", "status", "attempts", "max_attempts", "request_id", "created", "finished"]
    list_filter = ["status", "kind"]
    search_fields = ["ref", "request_id"]
    readonly_fields = [f.name for f in Job._meta.fields]


@admin.register(Lease)
class LeaseAdmin(RecordAdmin):
    """Who holds which lease until when (an S3 event store's rewrites), read-only: the holders take and
    let go of their rows; a row whose holder died is free for the taking once it expired."""

    list_display = ["name", "holder", "taken", "expires"]
    search_fields = ["name", "holder"]
    readonly_fields = [f.name for f in Lease._meta.fields]
