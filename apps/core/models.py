"""Operational records shared by every app: machine-client API keys and the audit log."""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

KEY_PREFIX_LENGTH = 8


class Scope(models.TextChoices):
    """What a machine client may do. A key holds one or more; none implies another."""

    READ = "read", "read: analytics, KPIs, registry, batches (no personal data)"
    PII = "pii", "pii: customers' names, e-mails and phones on customer endpoints (with read)"
    INGEST = "ingest", "ingest: send events"
    DECIDE = "decide", "decide: intent, risk, feedback and the profile dip (contact flows)"
    MANAGE = "manage", "manage: train, activate and roll back models; milestones and webhooks"


SCOPES: tuple[str, ...] = tuple(Scope.values)


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
    scopes = models.JSONField(default=list, blank=True, help_text=f"any of: {', '.join(SCOPES)}")
    expires = models.DateTimeField(null=True, blank=True, help_text="refused from this moment on (empty: never)")

    class Meta:
        verbose_name = "API key"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires is not None and self.expires <= (now or timezone.now())

    @classmethod
    def issue(cls, name: str, *, scopes: Iterable[str] = (Scope.READ,),
              expires: datetime | None = None) -> tuple[ApiKey, str]:
        """Create a key and return it with the raw secret, which is shown once and never stored.
        A key reads by default; every other power is granted by naming its scope."""
        chosen = sorted(set(scopes))
        unknown = [s for s in chosen if s not in SCOPES]
        if unknown:
            raise ValueError(f"unknown scope(s) {', '.join(unknown)}; expected any of {', '.join(SCOPES)}")
        raw = f"{secrets.token_urlsafe(6)[:KEY_PREFIX_LENGTH]}.{secrets.token_urlsafe(32)}"
        key = cls.objects.create(name=name, prefix=raw[:KEY_PREFIX_LENGTH], hashed_key=hash_key(raw),
                                 scopes=chosen, expires=expires)
        return key, raw


class AuditEntry(models.Model):
    """Who changed which configuration object, when, and from what to what."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor = models.CharField(max_length=150, blank=True,
                             help_text="who acted: user:<name>, api-key:<name>, command:<name> or system")
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


class Job(models.Model):
    """One piece of background work (apps/core/jobs.py): what to call, how it went, and who asked.

    The queue (django-q2's ORM broker) only carries this row's id, so status, attempts and the error
    stay readable here whatever becomes of the worker that took it."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        RETRYING = "retrying"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    kind = models.CharField(max_length=64, db_index=True, help_text="what the job does, e.g. training")
    ref = models.CharField(max_length=100, blank=True, default="", db_index=True,
                           help_text="the record it works on, e.g. training_run:12")
    func = models.CharField(max_length=200, help_text="dotted path of the job function")
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    on_failure = models.CharField(max_length=200, blank=True, default="",
                                  help_text="dotted path called with (ref, error) when the job gives up")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    request_id = models.CharField(max_length=64, blank=True, default="", help_text="the request that queued it")
    error = models.TextField(blank=True, default="")
    result = models.JSONField(null=True, blank=True, help_text="what the job function returned (e.g. a batch id)")
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    next_attempt = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"job {self.pk} {self.label} [{self.status}] {self.attempts}/{self.max_attempts}"

    @property
    def label(self) -> str:
        return f"{self.kind} {self.ref}".strip()


class Lease(models.Model):
    """A named lock held through the database (apps/core/leases.py): processes on different machines
    share the database, not a folder, so this is the lock they all see."""

    name = models.CharField(max_length=200, primary_key=True)
    holder = models.CharField(max_length=200, help_text="host:pid:thread:token of whoever holds it")
    taken = models.DateTimeField()
    expires = models.DateTimeField(help_text="after it, another may take the lease (its holder died)")

    @property
    def process(self) -> str:
        """The holder's host and process id, what an operator looks for."""
        return self.holder.rsplit(":", 2)[0]

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder} until {self.expires.isoformat(timespec='seconds')}"
