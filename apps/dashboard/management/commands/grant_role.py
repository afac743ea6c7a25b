"""`python manage.py grant_role USERNAME viewer|analyst|admin`: give a person a dashboard role.

Roles are the groups created by the dashboard's migration; a person holds one at a time here, so
changing a role replaces the old one. `admin` also makes the account staff (Django admin access).
"""
from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.audit import acting_as
from apps.dashboard.roles import ADMIN, ROLES


class Command(BaseCommand):
    help = "Give a user one dashboard role (viewer, analyst or admin)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("role", choices=ROLES)

    def handle(self, *args: Any, username: str, role: str, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}; create one with `python manage.py createsuperuser` "
                               "or in /admin/")
        with acting_as("command:grant_role"):  # the role change is audited under this name
            groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLES}
            user.groups.remove(*groups.values())
            user.groups.add(groups[role])
            if role == ADMIN and not user.is_staff:
                user.is_staff = True
                user.save(update_fields=["is_staff"])
        self.stdout.write(f"{username} is now {role}")
