"""Admin mixin that writes an audit entry for every add, change and delete."""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.forms import ModelForm
from django.http import HttpRequest

from apps.core.services import record_audit


class AuditedAdminMixin(admin.ModelAdmin):
    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        changed = {name: str(form.cleaned_data.get(name)) for name in (form.changed_data or [])}
        record_audit(user=request.user, action="change" if change else "add", obj=obj, changes=changed)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        record_audit(user=request.user, action="delete", obj=obj)
        super().delete_model(request, obj)
