import os
import sys
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
        post_migrate.connect(_install_job_schedules, dispatch_uid="core-job-schedules")
        from apps.core import jobs, observability

        observability.register_job_source("jobs", jobs.counts)
        if _serves_web_here():
            jobs.start_in_process_worker()


def _grant_role_permissions(sender: AppConfig, **kwargs: Any) -> None:
    from apps.core.roles_setup import grant_role_permissions

    grant_role_permissions(using=kwargs.get("using", "default"))


def _install_job_schedules(sender: AppConfig, **kwargs: Any) -> None:
    """Recurring jobs are declared in the apps' tasks.py (`jobs.every`); their schedules follow each migrate."""
    if sender.label != "core":
        return
    from django.utils.module_loading import autodiscover_modules

    from apps.core import jobs

    autodiscover_modules("tasks")
    jobs.install_schedules()


def _serves_web_here() -> bool:
    """`runserver` (its serving child when it reloads) runs the in-process job worker (`demo` starts it
    itself, once the data is loaded)."""
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    return command == "runserver" and (os.environ.get("RUN_MAIN") == "true" or "--noreload" in sys.argv)
