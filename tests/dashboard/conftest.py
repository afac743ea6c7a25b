"""Signed-in clients for each dashboard role."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

PASSWORD = "correct-horse-battery"


def make_user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username, password=PASSWORD)
    if role == "admin":
        user.is_staff = True
        user.save()
    elif role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])  # flushed by transactional tests
    return user


def client_for(username: str, role: str | None) -> Client:
    client = Client()
    client.force_login(make_user(username, role))
    return client


@pytest.fixture
def viewer(db) -> Client:  # type: ignore[no-untyped-def]
    return client_for("vera", "viewer")


@pytest.fixture
def analyst(db) -> Client:  # type: ignore[no-untyped-def]
    return client_for("anna", "analyst")


@pytest.fixture
def admin_client_(db) -> Client:  # type: ignore[no-untyped-def]
    return client_for("ada", "admin")
