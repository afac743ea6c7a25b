"""Roles for people using the dashboard, kept as Django groups so admins manage them in /admin/.

viewer reads every page; analyst may also upload files and build funnels; admin (staff or superuser,
or the "admin" group) may also activate and roll back models. The roles themselves are defined once,
in apps.core.permissions, which the API's rules use too; this module adds the page decorator.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from apps.core.permissions import ADMIN, ANALYST, ROLES, VIEWER, has_role, role_of

__all__ = ["ADMIN", "ANALYST", "ROLES", "VIEWER", "has_role", "role_of", "role_required"]

View = Callable[..., HttpResponse]


def role_required(role: str) -> Callable[[View], View]:
    """Login first (redirect to the login page), then refuse with 403 when the role is too low."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_role(request.user, role):
                raise PermissionDenied(f"this needs the {role} role")
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator
