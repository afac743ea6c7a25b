"""Model files under ARTIFACTS_DIR: a local folder, or `s3://bucket/prefix`, through the project's one
storage helper (apps.core.storage), so every app stores and finds files the same way."""
from __future__ import annotations

from django.conf import settings

from apps.core import storage


def artifact_location(relative: str) -> str:
    """Join a relative name to ARTIFACTS_DIR, keeping `s3://` URLs as URLs."""
    root = str(settings.ARTIFACTS_DIR).rstrip("/")
    return f"{root}/{relative}"


def write_bytes(location: str, data: bytes) -> None:
    storage.write_bytes(location, data)


def read_bytes(location: str) -> bytes:
    """Raises apps.core.storage.StorageNotFound (a FileNotFoundError) when there is no such file."""
    return bytes(storage.read_bytes(location))
