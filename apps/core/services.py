"""Writes of the core app: API keys and audit entries."""
from __future__ import annotations

from typing import Any

from django.db import models

from apps.core.models import ApiKey, AuditEntry


def create_api_key(*, name: str) -> tuple[ApiKey, str]:
    if ApiKey.objects.filter(name=name).exists():
        raise ValueError(f"An API key named {name!r} already exists.")
    return ApiKey.issue(name)


def record_audit(*, user: Any, action: str, obj: models.Model, changes: dict[str, Any] | None = None) -> AuditEntry:
    """Every change to configuration is recorded, so a routing surprise can be traced to an edit."""
    return AuditEntry.objects.create(
        user=user if getattr(user, "pk", None) else None,
        action=action,
        object_type=obj._meta.label,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        changes=changes or {},
    )
