"""`Authorization: Api-Key <key>` authentication for machine clients."""
from __future__ import annotations

import threading
import time
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

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
    """Valid keys remembered for a few seconds: a contact flow's decision should not pay a database
    query for its credentials. Saving or deleting a key (admin, revocation) clears the cache at once
    in this process; other processes see the change within `TTL_SECONDS`."""

    TTL_SECONDS = 10.0

    def __init__(self) -> None:
        self._keys: dict[str, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()

    def get(self, hashed: str) -> ApiKey | None:
        entry = self._keys.get(hashed)
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]
        key = ApiKey.objects.filter(hashed_key=hashed, revoked=False).first()
        if key is not None:
            with self._lock:
                self._keys[hashed] = (key, time.monotonic() + self.TTL_SECONDS)
        return key

    def clear(self, **kwargs: Any) -> None:
        with self._lock:
            self._keys.clear()


key_cache = KeyCache()
post_save.connect(key_cache.clear, sender=ApiKey, dispatch_uid="api-key-cache-save")
post_delete.connect(key_cache.clear, sender=ApiKey, dispatch_uid="api-key-cache-delete")


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header.startswith(f"{KEYWORD} "):
            return None
        raw = header[len(KEYWORD) + 1:].strip()
        key = key_cache.get(hash_key(raw))
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        now = timezone.now()
        if key.last_used is None or (now - key.last_used).total_seconds() > 60:  # one write a minute, not per call
            key.last_used = now
            ApiKey.objects.filter(pk=key.pk).update(last_used=now)
        return ApiKeyUser(key), key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


def is_api_key_request(request: Any) -> bool:
    return isinstance(getattr(request, "auth", None), ApiKey)
