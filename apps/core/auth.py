"""`Authorization: Api-Key <key>` authentication for machine clients."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
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


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header.startswith(f"{KEYWORD} "):
            return None
        raw = header[len(KEYWORD) + 1:].strip()
        key = ApiKey.objects.filter(hashed_key=hash_key(raw), revoked=False).first()
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        now = timezone.now()
        if key.last_used is None or (now - key.last_used).total_seconds() > 60:  # one write a minute, not per call
            ApiKey.objects.filter(pk=key.pk).update(last_used=now)
        return ApiKeyUser(key), key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


def is_api_key_request(request: Any) -> bool:
    return isinstance(getattr(request, "auth", None), ApiKey)
