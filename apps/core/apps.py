from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        from apps.core import audit, schema  # noqa: F401 - schema registers the OpenAPI description of API keys

        # Who holds which role is configuration too: account flags, group membership, group powers.
        audit.track(get_user_model(), fields=("username", "password", "is_active", "is_staff", "is_superuser",
                                              "groups", "user_permissions"))
        audit.track(Group, fields=("name", "permissions"))
        post_migrate.connect(_grant_role_permissions, dispatch_uid="core-role-permissions")


def _grant_role_permissions(sender: AppConfig, **kwargs: Any) -> None:
    from apps.core.roles_setup import grant_role_permissions

    grant_role_permissions(using=kwargs.get("using", "default"))
