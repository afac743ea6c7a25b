"""Operational records shared by every app: machine-client API keys and the audit log."""
from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models

KEY_PREFIX_LENGTH = 8


def hash_key(raw_key: str) -> str:
    """Keys are stored hashed so a database leak does not leak working credentials."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKey(models.Model):
    """A credential for a machine client (agent desktop, CRM, Connect Lambda)."""

    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=KEY_PREFIX_LENGTH, db_index=True, editable=False)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    class Meta:
        verbose_name = "API key"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, name: str) -> tuple[ApiKey, str]:
        """Create a key and return it with the raw secret, which is shown once and never stored."""
        raw = f"{secrets.token_urlsafe(6)[:KEY_PREFIX_LENGTH]}.{secrets.token_urlsafe(32)}"
        key = cls.objects.create(name=name, prefix=raw[:KEY_PREFIX_LENGTH], hashed_key=hash_key(raw))
        return key, raw


class AuditEntry(models.Model):
    """Who changed which configuration object, when, and from what to what."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=20)
    object_type = models.CharField(max_length=100, db_index=True)
    object_id = models.CharField(max_length=100)
    object_repr = models.CharField(max_length=200)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type} {self.object_repr}"
