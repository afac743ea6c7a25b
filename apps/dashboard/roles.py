"""Roles for people using the dashboard, kept as Django groups so admins manage them in /admin/.

viewer reads every page; analyst may also upload files and build funnels; admin (staff or superuser,
or the "admin" group) may also activate and roll back models.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

VIEWER = "viewer"
ANALYST = "analyst"
ADMIN = "admin"
ROLES = (VIEWER, ANALYST, ADMIN)
_RANK = {VIEWER: 0, ANALYST: 1, ADMIN: 2}


def role_of(user: Any) -> str | None:
    """The highest role a user holds, or None for a signed-in user with no role at all."""
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser or user.is_staff:
        return ADMIN
    names = set(user.groups.values_list("name", flat=True))
    for role in reversed(ROLES):
        if role in names:
            return role
    return None


def has_role(user: Any, role: str) -> bool:
    held = role_of(user)
    return held is not None and _RANK[held] >= _RANK[role]


View = Callable[..., HttpResponse]


def role_required(role: str) -> Callable[[View], View]:
    """Login first (redirect to the login page), then refuse with 403 when the role is too low."""
    if role not in _RANK:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_role(request.user, role):
                raise PermissionDenied(f"this needs the {role} role")
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator
