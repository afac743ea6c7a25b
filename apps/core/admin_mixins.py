"""Admin base class for configuration models: registering a ModelAdmin built on it makes its model
audited on every path (admin forms, list edits, bulk deletes, the API, commands) through
apps.core.audit's signals, so the admin needs no audit code of its own."""
from __future__ import annotations

from typing import Any

from django.contrib import admin

from apps.core import audit


class AuditedAdminMixin(admin.ModelAdmin):
    audit_fields: tuple[str, ...] | None = None  # None: every field
    audit_secrets: tuple[str, ...] = ()  # masked in the log, beside any field named like a secret

    def __init__(self, model: Any, admin_site: Any) -> None:
        super().__init__(model, admin_site)
        audit.track(model, fields=self.audit_fields, secrets=self.audit_secrets)
