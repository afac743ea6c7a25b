"""`Authorization: Api-Key <key>` authentication for machine clients."""
from __future__ import annotations

import threading
import time
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.models import AnonymousUser
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from rest_framework import HTTP_HEADER_ENCODING, authentication, exceptions
from rest_framework.request import Request

from apps.core import refresh
from apps.core.models import ApiKey, hash_key

KEYWORD = "Api-Key"


class ApiKeyUser(AnonymousUser):
    """A request made with an API key: authenticated, but not a person and not staff."""

    def __init__(self, api_key: ApiKey) -> None:
        super().__init__()
        self.api_key = api_key
        self.username = f"api-key:{api_key.name}"  # type: ignore[assignment]

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    @property
    def is_anonymous(self) -> bool:  # type: ignore[override]
        return False


class KeyCache:
    """Keys remembered for a few seconds: a contact flow's decision should not pay a database query
    for its credentials, and neither should a client repeating a wrong key (invalid keys are
    remembered too, up to `MAX_INVALID` of them, so a flood of bad keys cannot fill memory). Saving or
    deleting a key (admin, revocation) clears the cache at once in this process; other processes see
    the change within `TTL_SECONDS` (plus one query: a known key's entry is re-read off the request's
    path, `apps.core.refresh`). Expiry is checked on every use, cached or not."""

    TTL_SECONDS = 10.0
    MAX_INVALID = 10_000

    def __init__(self) -> None:
        self._keys: dict[str, tuple[ApiKey | None, float]] = {}
        self._invalid = 0
        self._lock = threading.Lock()

    def get(self, hashed: str) -> ApiKey | None:
        entry = self._keys.get(hashed)
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]
        if entry is not None and entry[0] is not None and refresh.in_background():
            refresh.refresher.request(("api-key", hashed), lambda: self._load(hashed))
            return entry[0]
        return self._load(hashed)

    def _load(self, hashed: str) -> ApiKey | None:
        key = ApiKey.objects.filter(hashed_key=hashed, revoked=False).first()
        with self._lock:
            if key is None:
                if self._invalid >= self.MAX_INVALID:
                    self._drop_invalid()
                self._invalid += 1
            self._keys[hashed] = (key, time.monotonic() + self.TTL_SECONDS)
        return key

    def _drop_invalid(self) -> None:
        self._keys = {h: e for h, e in self._keys.items() if e[0] is not None}
        self._invalid = 0

    def clear(self, **kwargs: Any) -> None:
        with self._lock:
            self._keys.clear()
            self._invalid = 0


key_cache = KeyCache()
post_save.connect(key_cache.clear, sender=ApiKey, dispatch_uid="api-key-cache-save")
post_delete.connect(key_cache.clear, sender=ApiKey, dispatch_uid="api-key-cache-delete")


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKey] | None:
        # META, not DRF's get_authorization_header: that builds request.headers from every variable of
        # the environment on each call (a tenth of a decision's checks), for the one header read here
        raw_header = request.META.get("HTTP_AUTHORIZATION", b"")
        if isinstance(raw_header, str):
            raw_header = raw_header.encode(HTTP_HEADER_ENCODING)
        header = raw_header.decode(errors="replace")
        if not header.startswith(f"{KEYWORD} "):
            return None  # another scheme may be another authenticator's; if none takes it, see not_an_api_key
        raw = header[len(KEYWORD) + 1:].strip()
        key = key_cache.get(hash_key(raw))
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        now = timezone.now()
        if key.is_expired(now):
            raise exceptions.AuthenticationFailed(f"This API key expired at {key.expires:%Y-%m-%d %H:%M} UTC.")
        if key.last_used is None or (now - key.last_used).total_seconds() > 60:  # one write a minute, not per call
            key.last_used = now
            if refresh.in_background():  # a write the caller need not wait for
                refresh.refresher.request(("api-key-used", key.pk), lambda: _touch(key.pk, now))
            else:
                _touch(key.pk, now)
        return ApiKeyUser(key), key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


def not_an_api_key(request: Any) -> str | None:
    """Why a request that no authenticator took was refused, when it sent an Authorization header that
    is not `Api-Key <key>`; None otherwise. Without it a key pasted alone (as Swagger UI's Authorize
    dialog sends it) or sent as a bearer token was answered "Authentication credentials were not
    provided.", which sent people looking for a missing header. It words the 401 only: a header of
    another scheme (a proxy's Basic credentials) never stops the session from signing a person in."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if isinstance(header, bytes):
        header = header.decode(errors="replace")
    if not header.strip() or header.startswith(f"{KEYWORD} "):
        return None
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() == KEYWORD.lower():
        problem = f"the scheme is spelled `{KEYWORD}`" if rest.strip() else "it names no key"
    elif not rest.strip():
        problem = "it holds a value with no scheme before it"
    else:
        problem = f"its scheme `{scheme[:20]}` is not read here"
    return f"The Authorization header is not an API key ({problem}): send `Authorization: {KEYWORD} <key>`."


def _touch(pk: int, when: Any) -> None:
    ApiKey.objects.filter(pk=pk).update(last_used=when)


def is_api_key_request(request: Any) -> bool:
    return isinstance(getattr(request, "auth", None), ApiKey)


class LockoutBackend(AxesStandaloneBackend):
    """django-axes counts failed logins and locks a username and address out after
    `AXES_FAILURE_LIMIT` of them. A login without a request (a script calling `authenticate()`, the
    test client's `login()`) has no client address to count; it falls through to the next backend."""

    def authenticate(self, request: Any, username: str | None = None, password: str | None = None,
                     **kwargs: Any) -> Any:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
