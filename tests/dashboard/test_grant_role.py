"""Giving people roles from the command line."""
from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from apps.dashboard.roles import role_of

pytestmark = pytest.mark.django_db


def test_a_role_replaces_the_previous_one():
    user = User.objects.create_user("sam")
    out = io.StringIO()

    call_command("grant_role", "sam", "analyst", stdout=out)
    call_command("grant_role", "sam", "viewer", stdout=out)

    user.refresh_from_db()
    assert list(user.groups.values_list("name", flat=True)) == ["viewer"]
    assert role_of(user) == "viewer"
    assert out.getvalue() == "sam is now analyst\nsam is now viewer\n"


def test_admin_makes_the_account_staff():
    User.objects.create_user("ada")

    call_command("grant_role", "ada", "admin", stdout=io.StringIO())

    assert User.objects.get(username="ada").is_staff is True


def test_an_unknown_user_is_named_in_the_error():
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        call_command("grant_role", "ghost", "viewer")
