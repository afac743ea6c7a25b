"""An `s3://` event store for DuckDB without DuckDB's httpfs extension.

DuckDB reads S3 through its httpfs extension, which DuckDB downloads on first use (`INSTALL httpfs`
fetches it from DuckDB's extension site): no PyPI package carries an httpfs build for the DuckDB
version pinned here, and nothing may be downloaded while the product runs. So the engine reads an
S3 store through pyarrow's own S3 filesystem (part of the pyarrow wheel, no download), wrapped for
fsspec and registered with the DuckDB connection under a protocol of its own (`journeyhub-s3://`),
which also keeps Ibis from asking DuckDB to install httpfs for an `s3://` path.

Credentials come from boto3's default chain (environment, profile, instance role), the endpoint from
`AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` (MinIO, LocalStack, a test server), and every request has
the deadlines of every other S3 call (`AWS_CONNECT_TIMEOUT`, `AWS_READ_TIMEOUT`, `AWS_MAX_ATTEMPTS`).
"""
from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from fsspec.implementations.arrow import ArrowFSWrapper
from pyarrow import fs as arrow_fs

PROTOCOL = "journeyhub-s3"


def is_s3(url: str) -> bool:
    return url.startswith("s3://")


def duckdb_path(url: str) -> str:
    """`s3://bucket/key` as DuckDB reads it through the registered filesystem."""
    return f"{PROTOCOL}://{url.removeprefix('s3://')}" if is_s3(url) else url


class _S3(ArrowFSWrapper):  # type: ignore[misc]
    """pyarrow's S3 filesystem as fsspec sees it, under the project's protocol."""

    protocol = PROTOCOL

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        for prefix in (f"{PROTOCOL}://", "s3://"):
            path = path.removeprefix(prefix)
        return path.rstrip("/")


def arrow_s3() -> arrow_fs.S3FileSystem:
    """pyarrow's S3 filesystem with boto3's credentials, the configured endpoint and deadlines."""
    import boto3

    session = boto3.Session()
    frozen = session.get_credentials()
    options: dict[str, Any] = {
        "region": session.region_name or "us-east-1",
        "connect_timeout": float(settings.AWS_CONNECT_TIMEOUT),
        "request_timeout": float(settings.AWS_READ_TIMEOUT),
        "retry_strategy": arrow_fs.AwsStandardS3RetryStrategy(max_attempts=int(settings.AWS_MAX_ATTEMPTS)),
    }
    if frozen is not None:
        creds = frozen.get_frozen_credentials()
        options.update(access_key=creds.access_key, secret_key=creds.secret_key, session_token=creds.token)
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint)
        options.update(endpoint_override=parts.netloc or parts.path, scheme=parts.scheme or "https")
    return arrow_fs.S3FileSystem(**options)


def fsspec_s3() -> Any:
    """The filesystem to register with a DuckDB connection (`register_filesystem`)."""
    return _S3(arrow_s3())


def has_files(fs: Any, url_pattern: str) -> bool:
    """Whether a glob (`s3://bucket/prefix/events/*/*.parquet`) matches any file."""
    return bool(fs.glob(duckdb_path(url_pattern)))


def exists(fs: Any, url: str) -> bool:
    return bool(fs.exists(duckdb_path(url)))
