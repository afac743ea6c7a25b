"""Model files under ARTIFACTS_DIR: a local folder, or `s3://bucket/prefix` through boto3.

When the project's shared storage helper (`apps.core.storage`) offers `write_bytes`/`read_bytes`, it is
used, so every app stores files the same way; otherwise the few lines below do the same job.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from django.conf import settings


def _shared_storage() -> Any | None:
    try:
        module = importlib.import_module("apps.core.storage")
    except ImportError:
        return None
    if hasattr(module, "write_bytes") and hasattr(module, "read_bytes"):
        return module
    return None


def artifact_location(relative: str) -> str:
    """Join a relative name to ARTIFACTS_DIR, keeping `s3://` URLs as URLs."""
    root = str(settings.ARTIFACTS_DIR).rstrip("/")
    return f"{root}/{relative}"


def write_bytes(location: str, data: bytes) -> None:
    shared = _shared_storage()
    if shared is not None:
        shared.write_bytes(location, data)
        return
    parsed = urlparse(location)
    if parsed.scheme == "s3":
        _s3().put_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"), Body=data)
        return
    path = Path(location)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def read_bytes(location: str) -> bytes:
    shared = _shared_storage()
    if shared is not None:
        return bytes(shared.read_bytes(location))
    parsed = urlparse(location)
    if parsed.scheme == "s3":
        return bytes(_s3().get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read())
    path = Path(location)
    if not path.exists():
        raise FileNotFoundError(f"model artifact not found at {location}")
    return path.read_bytes()


def _s3() -> Any:
    from apps.core.storage import s3_client  # deadlines from AWS_*_TIMEOUT

    return s3_client()
