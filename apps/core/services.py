"""Writes of the core app: API keys and audit entries."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import models

from apps.core.audit import current_actor
from apps.core.models import ApiKey, AuditEntry, Scope


def create_api_key(*, name: str, scopes: Iterable[str] = (Scope.READ,),
                   expires: datetime | None = None) -> tuple[ApiKey, str]:
    if ApiKey.objects.filter(name=name).exists():
        raise ValueError(f"An API key named {name!r} already exists.")
    return ApiKey.issue(name, scopes=scopes, expires=expires)


def record_audit(*, user: Any = None, action: str, obj: models.Model,
                 changes: dict[str, Any] | None = None) -> AuditEntry:
    """Every change to configuration is recorded, so a routing surprise can be traced to an edit.
    Without an explicit user the actor is the request's person or key, or the running command."""
    acting_user, actor = current_actor(user if getattr(user, "pk", None) else None)
    return AuditEntry.objects.create(
        user=acting_user,
        actor=actor[:150],
        action=action,
        object_type=obj._meta.label,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        changes=changes or {},
    )
