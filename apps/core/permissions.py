"""Who may call what: roles for people, scopes for API keys, one declared rule per endpoint.

People hold a role (Django groups `viewer`, `analyst`, `admin`; staff and superusers are admins):
viewer reads, analyst also explores funnels, defines milestones and sends events, admin also
configures — models, webhooks, keys. A signed-in person with no role may call nothing.

Machine clients hold API keys with scopes (`apps.core.models.Scope`): `read`, `pii`, `ingest`,
`decide`, `manage`. Scopes are independent: a key gets exactly the powers it names.

Every DRF view declares `permission_classes = [rule]` with a rule made by `allow(...)` (or `PUBLIC`),
so what a caller may do is read off the view, and the URL matrix test (tests/core) checks each one.
Personal data (names, e-mails, phones, identifier values) goes to `can_read_pii` callers only: the
analyst and admin roles and keys with the `pii` scope.
"""
from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from apps.core.models import ApiKey, Scope

ANY_SCOPE = "*"  # any valid key, whatever its scopes
VIEWER = "viewer"
ANALYST = "analyst"
ADMIN = "admin"
ROLES = (VIEWER, ANALYST, ADMIN)
_RANK = {VIEWER: 0, ANALYST: 1, ADMIN: 2}


def role_of(user: Any) -> str | None:
    """The highest role a user holds, or None for a signed-in user with no role (or an API key)."""
    if not getattr(user, "is_authenticated", False) or getattr(user, "api_key", None) is not None:
        return None
    if user.is_superuser or user.is_staff:
        return ADMIN
    names = set(user.groups.values_list("name", flat=True))
    return next((r for r in reversed(ROLES) if r in names), None)


def has_role(user: Any, role: str) -> bool:
    held = role_of(user)
    return held is not None and _RANK[held] >= _RANK[role]


def api_key_of(request: Any) -> ApiKey | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiKey) else None


def can_read_pii(request: Any) -> bool:
    """Names, e-mails and phones: analysts and admins, and keys granted the `pii` scope."""
    key = api_key_of(request)
    if key is not None:
        return key.has_scope(Scope.PII)
    return has_role(request.user, ANALYST)


def is_admin(request: Any) -> bool:
    """Admins among people, `manage` among keys: who sees operational detail such as tracebacks."""
    key = api_key_of(request)
    if key is not None:
        return key.has_scope(Scope.MANAGE)
    return has_role(request.user, ADMIN)


class Rule(permissions.BasePermission):
    """One endpoint's rule: the least role a person needs and the scope a key needs, for reading
    (GET, HEAD, OPTIONS) and for writing. None means that kind of caller may not call at all.
    Build one with `allow(...)`."""

    role: str | None = None
    scope: str | None = None
    write_role: str | None = None
    write_scope: str | None = None
    message = "You may not call this endpoint."

    def needs(self, method: str) -> tuple[str | None, str | None]:
        if method in permissions.SAFE_METHODS:
            return self.role, self.scope
        return self.write_role, self.write_scope

    def has_permission(self, request: Request, view: Any) -> bool:
        role, scope = self.needs(request.method or "GET")
        key = api_key_of(request)
        if key is not None:
            if scope is None:
                self.message = "API keys may not call this endpoint; it is for people."
                return False
            if scope != ANY_SCOPE and not key.has_scope(scope):
                self.message = f"This API key lacks the {str(scope)!r} scope."
                return False
            return True
        if not request.user or not request.user.is_authenticated:
            return False  # DRF answers 401 with the Api-Key challenge
        if role is None:
            self.message = "Only API keys may call this endpoint."
            return False
        if not has_role(request.user, role):
            self.message = f"This needs the {role} role."
            return False
        return True


_SAME = "same as reading"


def allow(*, role: str | None, scope: str | None, write_role: str | None = _SAME,
          write_scope: str | None = _SAME, name: str = "") -> type[Rule]:
    """A rule class for `permission_classes`: `role` and `scope` for every method unless `write_role`
    and `write_scope` set other needs for writes (None: nobody of that kind may write)."""
    write_role = role if write_role == _SAME else write_role
    write_scope = scope if write_scope == _SAME else write_scope
    for value in (role, write_role):
        if value is not None and value not in _RANK:
            raise ValueError(f"unknown role {value!r}; expected one of {', '.join(ROLES)}")
    for value in (scope, write_scope):
        if value is not None and value != ANY_SCOPE and value not in Scope.values:
            raise ValueError(f"unknown scope {value!r}; expected one of {', '.join(Scope.values)}")
    attrs = {"role": role, "scope": scope, "write_role": write_role, "write_scope": write_scope}
    return type(name or f"Allow_{role}_{scope}_{write_role}_{write_scope}", (Rule,), attrs)


class Undeclared(permissions.BasePermission):
    """The default rule: a view that declares none is refused to everyone, so forgetting is safe."""

    message = "This endpoint declares no access rule."

    def has_permission(self, request: Request, view: Any) -> bool:
        return False


PUBLIC = permissions.AllowAny
# The rules the API uses, named for what they let a caller do.
SIGNED_IN = allow(role=VIEWER, scope=ANY_SCOPE, name="SignedIn")
READ = allow(role=VIEWER, scope=Scope.READ, name="Read")
EXPLORE = allow(role=ANALYST, scope=Scope.READ, name="Explore")
INGEST = allow(role=ANALYST, scope=Scope.INGEST, name="Ingest")
DECIDE = allow(role=None, scope=Scope.DECIDE, name="Decide")
MANAGE = allow(role=ADMIN, scope=Scope.MANAGE, name="Manage")
READ_OR_DEFINE = allow(role=VIEWER, scope=Scope.READ, write_role=ANALYST, write_scope=Scope.MANAGE,
                       name="ReadOrDefine")
