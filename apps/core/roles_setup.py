"""The Django-admin powers of the `admin` role. It configures the product, so it may add, change and
delete every configuration model of the project (those whose admin is built on AuditedAdminMixin:
thresholds, rules, milestones, KPIs, webhooks, API keys) and view every other project model (records
such as decisions, reaches, deliveries, batches, model versions and the audit log), running their
admin actions (activate, roll back, deliver now). People accounts and lockouts stay with superusers.
Granted after every `migrate`, so a model added later is covered without a hand-written migration."""
from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from apps.core.admin_mixins import AuditedAdminMixin
from apps.core.permissions import ADMIN, ROLES

ALL_ACTIONS = ("add", "change", "delete", "view")


def admin_role_codenames() -> dict[tuple[str, str], tuple[str, ...]]:
    """(app label, model) -> the actions the admin role may take on it in the Django admin."""
    grants: dict[tuple[str, str], tuple[str, ...]] = {}
    for model, model_admin in admin.site._registry.items():
        if not model.__module__.startswith("apps."):
            continue
        actions = ALL_ACTIONS if isinstance(model_admin, AuditedAdminMixin) else ("view",)
        grants[(model._meta.app_label, str(model._meta.model_name))] = actions
    return grants


def grant_role_permissions(*, using: str = "default") -> None:
    """Idempotent. Written in bulk, without signals: these grants follow from the code, they are
    nobody's choice, so they do not fill the audit log on every migrate."""
    groups = {name: Group.objects.using(using).get_or_create(name=name)[0] for name in ROLES}
    wanted = admin_role_codenames()
    types = ContentType.objects.db_manager(using).filter(app_label__in={app for app, _ in wanted})
    ids = {(t.app_label, t.model): t.pk for t in types}
    permissions = Permission.objects.using(using).filter(content_type_id__in=ids.values()).select_related(
        "content_type")
    through = Group.permissions.through
    through.objects.using(using).bulk_create(
        [through(group_id=groups[ADMIN].pk, permission_id=p.pk) for p in permissions
         if p.codename.split("_", 1)[0] in wanted.get((p.content_type.app_label, p.content_type.model), ())],
        ignore_conflicts=True)
