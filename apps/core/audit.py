"""Configuration changes are audited on every path: admin (forms, list edits, bulk deletes), the API,
management commands and code. The audit hangs on model signals rather than on each path, so a path
added later is audited without anyone remembering to.

`track(Model)` connects the signals for one configuration model. Who acted comes from the request being
served (set by `AuditContextMiddleware`; DRF's API-key user is seen once the view authenticated it),
from `acting_as("command:...")` in code, or, when nothing says, from the management command running
(`command:<name>`) or `system`. Values of fields whose names look secret are never written: the entry
says `"***"` (changed) instead.
"""
from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.http import HttpRequest, HttpResponse

MASK = "***"
SECRET_WORDS = ("secret", "password", "token", "hashed_key")

_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)
_actor: ContextVar[str | None] = ContextVar("audit_actor", default=None)


@dataclass(frozen=True)
class Tracked:
    fields: tuple[str, ...] | None  # None: every concrete field
    secrets: frozenset[str]


_tracked: dict[type[models.Model], Tracked] = {}


def is_secret(field_name: str) -> bool:
    return any(word in field_name.lower() for word in SECRET_WORDS)


def track(model: type[models.Model], *, fields: Iterable[str] | None = None,
          secrets: Iterable[str] = (), saves: bool = True) -> None:
    """Audit every add, change (of `fields`, default all), many-to-many change and delete of `model`
    (only deletes with `saves=False`, for a model whose writes are audited where they happen)."""
    if model in _tracked:
        return
    names = tuple(fields) if fields is not None else None
    secret_names = frozenset(secrets) | {f.name for f in model._meta.get_fields() if is_secret(f.name)}
    _tracked[model] = Tracked(names, secret_names)
    uid = f"audit-{model._meta.label}"
    post_delete.connect(_deleted, sender=model, dispatch_uid=f"{uid}-delete")
    if not saves:
        return
    pre_save.connect(_remember_before, sender=model, dispatch_uid=f"{uid}-pre")
    post_save.connect(_saved, sender=model, dispatch_uid=f"{uid}-save")
    for field in model._meta.many_to_many:
        if names is None or field.name in names:
            through = getattr(model, field.name).through
            m2m_changed.connect(_m2m_changed, sender=through, dispatch_uid=f"{uid}-{field.name}")


def tracked_models() -> list[type[models.Model]]:
    return list(_tracked)


# --- who acts ---------------------------------------------------------------------------------------


class AuditContextMiddleware:
    """Makes the request being served known to the audit signals (and so the person or key acting)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Name the actor for changes made inside the block (`command:grant_role`, `system:demo`)."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor(user: Any = None) -> tuple[Any, str]:
    """(user or None, actor text) for an audit entry: an explicit user first, then the request's
    user or API key, then `acting_as`, then the running management command."""
    request = _request.get()
    if user is None and request is not None:
        user = getattr(request, "user", None)
    api_key = getattr(user, "api_key", None)
    if api_key is not None:
        return None, f"api-key:{api_key.name}"
    if getattr(user, "pk", None):
        return user, f"user:{user.get_username()}"
    explicit = _actor.get()
    if explicit:
        return None, explicit
    return None, _command_actor()


def _command_actor() -> str:
    """A management command's own work runs in the main thread; background threads (training jobs,
    a server's workers) are the system's."""
    argv = sys.argv
    if (len(argv) > 1 and Path(argv[0]).name in ("manage.py", "django-admin", "__main__.py")
            and threading.current_thread() is threading.main_thread()):
        return f"command:{argv[1]}"
    return "system"


# --- signal handlers --------------------------------------------------------------------------------


def _value(instance: models.Model, field: models.Field[Any, Any]) -> Any:
    value = field.value_from_object(instance)
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return str(value)


def _snapshot(instance: models.Model, spec: Tracked) -> dict[str, Any]:
    out = {}
    for field in instance._meta.concrete_fields:
        if field.primary_key or (spec.fields is not None and field.name not in spec.fields):
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue  # timestamps the database keeps, not choices anyone made
        out[field.name] = _value(instance, field)
    return out


def _shown(spec: Tracked, name: str, value: Any) -> Any:
    """What the audit log may show of a value: secrets never appear; other values as the admin
    form shows them (text), so entries read the same whichever path made them."""
    if name in spec.secrets:
        return MASK
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True) if isinstance(value, list | dict) else str(value)


def _remember_before(sender: type[models.Model], instance: models.Model, raw: bool = False,
                     update_fields: Any = None, **kwargs: Any) -> None:
    if raw or instance.pk is None:
        return
    spec = _tracked[sender]
    if update_fields is not None and spec.fields is not None and not set(update_fields) & set(spec.fields):
        instance.__dict__["_audit_skip"] = True  # e.g. a login stamping last_login: nothing tracked changes
        return
    old = sender._default_manager.filter(pk=instance.pk).first()
    instance.__dict__["_audit_before"] = _snapshot(old, spec) if old is not None else None


def _saved(sender: type[models.Model], instance: models.Model, created: bool, raw: bool = False,
           update_fields: Any = None, **kwargs: Any) -> None:
    if raw:
        return
    from apps.core.services import record_audit

    if instance.__dict__.pop("_audit_skip", False):
        return
    spec = _tracked[sender]
    before = instance.__dict__.pop("_audit_before", None)
    after = _snapshot(instance, spec)
    if created or before is None:
        record_audit(action="add", obj=instance, changes={k: _shown(spec, k, v) for k, v in after.items()})
        return
    changed = {k: _shown(spec, k, v) for k, v in after.items() if before.get(k) != v}
    if changed:
        record_audit(action="change", obj=instance, changes=changed)


def _deleted(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    from apps.core.services import record_audit

    spec = _tracked[sender]
    record_audit(action="delete", obj=instance,
                 changes={k: _shown(spec, k, v) for k, v in _snapshot(instance, spec).items()})


def _m2m_changed(sender: Any, instance: models.Model, action: str, reverse: bool, model: type[models.Model],
                 pk_set: set[Any] | None, **kwargs: Any) -> None:
    if reverse or type(instance) not in _tracked:
        return
    field = next(f for f in instance._meta.many_to_many if getattr(type(instance), f.name).through is sender)
    if action in ("pre_remove", "pre_clear"):
        # remove() names members that may not be there: remember the ones that are
        linked = set(getattr(instance, field.name).values_list("pk", flat=True))
        instance.__dict__[f"_audit_removing_{field.name}"] = linked & set(pk_set) if pk_set else linked
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if action != "post_add":
        pk_set = instance.__dict__.pop(f"_audit_removing_{field.name}", pk_set)
    if not pk_set:
        return  # nothing added or removed
    from apps.core.services import record_audit

    names = sorted(str(o) for o in model._default_manager.filter(pk__in=pk_set))
    verb = "added" if action == "post_add" else "removed"
    record_audit(action="change", obj=instance, changes={field.name: {verb: names}})
