"""Files that may live on local disk or in S3, behind one small interface.

Ingest reads its input from a path or an `s3://bucket/key` URL, and the model registry keeps trained
models under `ARTIFACTS_DIR`, which is a local folder by default and `s3://bucket/prefix` in the cloud.
Both go through here so the rest of the project never branches on where a file lives, and so a
missing bucket, key or credential is reported once, clearly, with the URL it concerns.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal
from urllib.parse import urlparse

S3_SCHEME = "s3://"


class StorageError(Exception):
    """A file or folder could not be read or written (credentials, permissions, bad location)."""


class StorageNotFound(StorageError, FileNotFoundError):
    """The bucket, key or local file does not exist."""


def is_s3(location: str | os.PathLike[str]) -> bool:
    return str(location).startswith(S3_SCHEME)


def split_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/key` -> ("bucket", "some/key"); the key may be empty (a bucket root)."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise StorageError(f"not an S3 URL (expected s3://bucket/key): {url!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def s3_client() -> Any:
    """A fresh client from boto3's default credential chain (environment, profile, instance role);
    AWS_ENDPOINT_URL is honoured by boto3 itself, which is how MinIO or LocalStack are used."""
    import boto3

    return boto3.client("s3", config=aws_config())


def aws_config() -> Any:
    """Deadlines for every AWS call (botocore waits 60 s per read and retries by default): connect and
    read timeouts and attempts from AWS_CONNECT_TIMEOUT, AWS_READ_TIMEOUT and AWS_MAX_ATTEMPTS."""
    from botocore.config import Config
    from django.conf import settings

    return Config(connect_timeout=settings.AWS_CONNECT_TIMEOUT, read_timeout=settings.AWS_READ_TIMEOUT,
                  retries={"max_attempts": settings.AWS_MAX_ATTEMPTS, "mode": "standard"})


# --- reading one input file -------------------------------------------------------------------------


def open_uri(location: str | os.PathLike[str]) -> tuple[IO[bytes], int | None]:
    """A binary stream over a local path or `s3://bucket/key` and its size in bytes when known, for
    progress reports. S3 objects stream: they are never downloaded whole first."""
    if is_s3(location):
        response = _get_object(str(location))
        size = response.get("ContentLength")
        stream = io.BufferedReader(_S3ObjectStream(response["Body"]), buffer_size=1 << 20)
        return stream, int(size) if size is not None else None
    path = Path(location)
    if not path.is_file():
        raise StorageNotFound(f"input file not found: {path}" + (" (it is a directory)" if path.is_dir() else ""))
    return path.open("rb"), path.stat().st_size


def open_input(location: str | os.PathLike[str], *, mode: Literal["rb", "r"] = "rb",
               encoding: str = "utf-8") -> IO[Any]:
    """Open a local path or an `s3://bucket/key` URL for streaming reads, as bytes or as text."""
    if mode not in ("rb", "r"):
        raise ValueError(f"mode must be 'rb' or 'r', not {mode!r}")
    stream, _ = open_uri(location)
    if mode == "rb":
        return stream
    return io.TextIOWrapper(stream, encoding=encoding, newline="")  # type: ignore[type-var]


class _S3ObjectStream(io.RawIOBase):
    """Adapts botocore's StreamingBody to the io stack (BufferedReader, TextIOWrapper, csv)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _get_object(url: str) -> Any:
    bucket, key = split_s3_url(url)
    if not key:
        raise StorageError(f"S3 URL names a bucket but no object: {url}")
    with _s3_errors(url):
        return s3_client().get_object(Bucket=bucket, Key=key)


@contextmanager
def _s3_errors(url: str) -> Iterator[None]:
    """Turns botocore's exceptions into StorageError/StorageNotFound naming the URL involved."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except NoCredentialsError as exc:
        raise StorageError(f"no AWS credentials found for {url}: set AWS_ACCESS_KEY_ID and "
                           "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an IAM role") from exc
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        bucket, key = split_s3_url(url)
        if code == "NoSuchBucket":
            raise StorageNotFound(f"S3 bucket {bucket!r} does not exist ({url})") from exc
        if code in {"NoSuchKey", "404", "NotFound"}:
            raise StorageNotFound(f"no S3 object {key!r} in bucket {bucket!r} ({url})") from exc
        if code in {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
            raise StorageError(f"access to {url} denied ({code}): check the AWS credentials "
                               "and the bucket policy") from exc
        raise StorageError(f"S3 request for {url} failed: {exc}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"S3 request for {url} failed: {exc}") from exc


# --- a folder of artifacts: local directory or s3://bucket/prefix ------------------------------------


def _checked_relpath(relpath: str) -> str:
    """Artifacts are addressed by forward-slash relative paths that cannot climb out of the folder."""
    pure = PurePosixPath(relpath)
    if not relpath or pure.is_absolute() or ".." in pure.parts or "\\" in relpath or relpath.endswith("/"):
        raise ValueError(f"artifact path must be a relative file path like 'intent/v3/model.pkl', not {relpath!r}")
    return str(pure)


@dataclass
class LocalFolder:
    root: Path

    def uri(self, relpath: str) -> str:
        return str(self.root / _checked_relpath(relpath))

    def write_bytes(self, relpath: str, data: bytes) -> str:
        """Write to a temporary file and rename, so a reader never sees half a model."""
        target = self.root / _checked_relpath(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
        return str(target)

    def write_file(self, relpath: str, source: Path) -> str:
        target = self.root / _checked_relpath(relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return str(target)

    def read_bytes(self, relpath: str) -> bytes:
        target = self.root / _checked_relpath(relpath)
        if not target.is_file():
            raise StorageNotFound(f"artifact not found: {target}")
        return target.read_bytes()

    def exists(self, relpath: str) -> bool:
        return (self.root / _checked_relpath(relpath)).is_file()

    def delete(self, relpath: str) -> None:
        """Remove a file; one that is already gone is not an error."""
        (self.root / _checked_relpath(relpath)).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> list[str]:
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return []
        found = (p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())
        return sorted(name for name in found if not PurePosixPath(name).name.startswith("."))


@dataclass
class S3Folder:
    url: str
    _client: Any = field(default=None, repr=False)

    @property
    def bucket(self) -> str:
        return split_s3_url(self.url)[0]

    @property
    def prefix(self) -> str:
        key = split_s3_url(self.url)[1].strip("/")
        return f"{key}/" if key else ""

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client()
        return self._client

    def _key(self, relpath: str) -> str:
        return self.prefix + _checked_relpath(relpath)

    def uri(self, relpath: str) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self._key(relpath)}"

    def write_bytes(self, relpath: str, data: bytes) -> str:
        uri = self.uri(relpath)
        with _s3_errors(uri):
            self.client.put_object(Bucket=self.bucket, Key=self._key(relpath), Body=data)
        return uri

    def write_file(self, relpath: str, source: Path) -> str:
        """Uploads in parts when the file is large (boto3's managed transfer)."""
        uri = self.uri(relpath)
        with _s3_errors(uri):
            self.client.upload_file(str(source), self.bucket, self._key(relpath))
        return uri

    def read_bytes(self, relpath: str) -> bytes:
        uri = self.uri(relpath)
        with _s3_errors(uri):
            return bytes(self.client.get_object(Bucket=self.bucket, Key=self._key(relpath))["Body"].read())

    def exists(self, relpath: str) -> bool:
        uri = self.uri(relpath)
        try:
            with _s3_errors(uri):
                self.client.head_object(Bucket=self.bucket, Key=self._key(relpath))
        except StorageNotFound:
            # HEAD answers a bare 404 for a missing bucket too: tell the two apart.
            with _s3_errors(f"{S3_SCHEME}{self.bucket}/"):
                self._require_bucket()
            return False
        return True

    def delete(self, relpath: str) -> None:
        uri = self.uri(relpath)
        with _s3_errors(uri):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(relpath))

    def _require_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in {"404", "NoSuchBucket", "NotFound"}:
                raise StorageNotFound(f"S3 bucket {self.bucket!r} does not exist ({self.url})") from exc
            raise

    def list(self, prefix: str = "") -> list[str]:
        names: list[str] = []
        with _s3_errors(f"{S3_SCHEME}{self.bucket}/{self.prefix}{prefix}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                         Prefix=self.prefix + prefix)
            for page in pages:
                names.extend(item["Key"][len(self.prefix):] for item in page.get("Contents", []))
        return sorted(names)


Folder = LocalFolder | S3Folder


def folder(location: str | os.PathLike[str]) -> Folder:
    """A folder addressed by a local path or an `s3://bucket/prefix` URL."""
    if is_s3(location):
        split_s3_url(str(location))  # validates the URL now rather than on first use
        return S3Folder(str(location))
    return LocalFolder(Path(location))


def artifacts() -> Folder:
    """The folder named by the ARTIFACTS_DIR setting (read on every call, so tests may override it)."""
    from django.conf import settings

    return folder(settings.ARTIFACTS_DIR)


def _locate(location: str) -> tuple[Folder, str]:
    """A path relative to ARTIFACTS_DIR, or a full location (absolute path, s3:// URL) used as it is,
    which is what a registry that recorded where it put a file hands back later."""
    if is_s3(location):
        bucket, key = split_s3_url(location)
        return S3Folder(f"{S3_SCHEME}{bucket}"), key
    path = Path(location)
    if path.is_absolute():
        return LocalFolder(path.parent), path.name
    return artifacts(), location


def write_bytes(location: str, data: bytes) -> str:
    """Store an artifact (relative to ARTIFACTS_DIR, or at a full location); returns where it went."""
    where, relpath = _locate(location)
    return where.write_bytes(relpath, data)


def read_bytes(location: str) -> bytes:
    where, relpath = _locate(location)
    return where.read_bytes(relpath)


def exists(location: str) -> bool:
    where, relpath = _locate(location)
    return where.exists(relpath)


def list_artifacts(prefix: str = "") -> list[str]:
    """Relative paths of the files under ARTIFACTS_DIR (optionally under `prefix`), sorted."""
    return artifacts().list(prefix)
