"""Amazon Neptune over WebSocket with IAM (SigV4) authentication.

Neptune checks an IAM signature on the WebSocket handshake only: the request `GET https://host:port/gremlin`
is signed for the service `neptune-db` and the signed headers (Authorization, X-Amz-Date, Host and, for
temporary credentials, X-Amz-Security-Token) travel with the upgrade request. A signature is refused
once it is about five minutes old, but gremlinpython opens its pooled sockets lazily with the headers
it was given at construction, so a long-lived driver would eventually open sockets with a stale
signature. `SignedRemoteConnection` therefore makes a freshly signed driver connection whenever the
current signature is older than `max_age`, and once more after a connection or authentication failure
(credentials may have rotated), before reporting the store unavailable.

`GRAPH_URL=neptune+wss://my-cluster.cluster-abc.eu-west-2.neptune.amazonaws.com:8182/gremlin`; the
region comes from a `?region=` query parameter, else the endpoint's host name, else AWS_REGION or
AWS_DEFAULT_REGION. `neptune+ws://` (no TLS) exists for local servers that check signatures in tests.
"""
from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from gremlin_python.driver.protocol import GremlinServerError
from gremlin_python.driver.remote_connection import RemoteConnection, RemoteTraversal
from gremlin_python.process.traversal import Bytecode

from graph.errors import GraphQueryError, GraphUnavailable

log = logging.getLogger(__name__)

SERVICE = "neptune-db"
SCHEMES = {"neptune+wss": "wss", "neptune+ws": "ws"}
DEFAULT_PORT = 8182
DEFAULT_MAX_AGE = timedelta(minutes=4)
HOST_REGION = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.neptune\.amazonaws\.com$")

Clock = Callable[[], datetime]
CredentialsSource = Callable[[], ReadOnlyCredentials | None]
DriverFactory = Callable[[str, dict[str, str]], RemoteConnection]


@dataclass(frozen=True)
class NeptuneEndpoint:
    host: str
    port: int
    path: str
    secure: bool
    region: str

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.secure else 'ws'}://{self.host}:{self.port}{self.path}"

    @property
    def signing_url(self) -> str:
        """Neptune verifies the signature of an HTTPS GET of the endpoint, whatever the transport."""
        return f"https://{self.host}:{self.port}{self.path}"


def parse_endpoint(url: str, environ: Mapping[str, str] | None = None) -> NeptuneEndpoint:
    parsed = urlparse(url)
    if parsed.scheme not in SCHEMES or not parsed.hostname:
        raise ValueError(f"not a Neptune URL (expected neptune+wss://endpoint:8182/gremlin): {url!r}")
    environ = os.environ if environ is None else environ
    query = parse_qs(parsed.query)
    match = HOST_REGION.search(parsed.hostname)
    region = ((query.get("region") or [""])[0] or (match.group(1) if match else "")
              or environ.get("AWS_REGION", "") or environ.get("AWS_DEFAULT_REGION", ""))
    if not region:
        raise ValueError(f"cannot tell the AWS region of {parsed.hostname}: set AWS_REGION or add ?region=… "
                         "to GRAPH_URL")
    return NeptuneEndpoint(host=parsed.hostname, port=parsed.port or DEFAULT_PORT, path=parsed.path or "/gremlin",
                           secure=SCHEMES[parsed.scheme] == "wss", region=region)


class _SigV4At(SigV4Auth):
    """botocore's SigV4 with the signing time supplied by the caller (botocore reads the wall clock),
    so signature age is decided by one injectable clock."""

    def __init__(self, credentials: ReadOnlyCredentials, region: str, now: datetime) -> None:
        super().__init__(credentials, SERVICE, region)
        self._now = now

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._now.astimezone(UTC).strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical_request = self.canonical_request(request)
        signature = self.signature(self.string_to_sign(request, canonical_request), request)
        self._inject_signature_to_request(request, signature)


def signed_headers(endpoint: NeptuneEndpoint, credentials: ReadOnlyCredentials, now: datetime) -> dict[str, str]:
    """The handshake headers for one connection: Host, X-Amz-Date, Authorization (+ session token)."""
    host = f"{endpoint.host}:{endpoint.port}"
    request = AWSRequest(method="GET", url=endpoint.signing_url, headers={"Host": host})
    _SigV4At(credentials, endpoint.region, now).add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}


def default_credentials() -> ReadOnlyCredentials | None:
    """boto3's default chain (environment, profile, container or instance role), frozen at call time so
    refreshed temporary credentials are used by the next signature."""
    import boto3

    credentials = boto3.Session().get_credentials()
    return credentials.get_frozen_credentials() if credentials is not None else None


def _driver(url: str, headers: dict[str, str]) -> RemoteConnection:
    from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection

    from graph.graphbinary import graph_binary_serializer  # epoch-ms ints as GraphBinary Long
    from graph.remote import driver_options  # handshake and read deadlines (GRAPH_*_TIMEOUT)

    return DriverRemoteConnection(url, "g", headers=headers, message_serializer=graph_binary_serializer(),
                                  **driver_options())


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SignedRemoteConnection(RemoteConnection):
    """A RemoteConnection whose underlying driver connection always carries a recent signature."""

    def __init__(self, endpoint: NeptuneEndpoint, *, credentials: CredentialsSource = default_credentials,
                 clock: Clock = _utcnow, max_age: timedelta = DEFAULT_MAX_AGE,
                 driver_factory: DriverFactory = _driver) -> None:
        super().__init__(endpoint.ws_url, "g")
        self.endpoint = endpoint
        self.max_age = max_age
        self._credentials = credentials
        self._clock = clock
        self._driver_factory = driver_factory
        self._lock = threading.Lock()
        self._remote: RemoteConnection | None = None
        self._signed_at: datetime | None = None
        self._closed = False

    @property
    def signed_at(self) -> datetime | None:
        return self._signed_at

    def submit(self, bytecode: Bytecode) -> RemoteTraversal:
        """Run on a recently signed connection; after a transport or handshake failure, re-sign and try
        once more (traversals are idempotent upserts or reads, so a repeat is harmless)."""
        failure: Exception | None = None
        for attempt in range(2):
            remote = self._current(force_new=attempt > 0)
            try:
                return remote.submit(bytecode)
            except GremlinServerError as exc:
                raise GraphQueryError(f"Neptune refused the traversal: {exc}") from exc
            except Exception as exc:  # noqa: BLE001 - the driver signals transport failures with many types
                if not _is_connection_failure(exc):
                    raise
                log.warning("Neptune connection to %s failed (%s); re-signing", self.endpoint.ws_url, exc)
                self._discard(remote)
                failure = exc
        raise GraphUnavailable(_explain(self.endpoint, failure)) from failure

    def _current(self, *, force_new: bool) -> RemoteConnection:
        with self._lock:
            if self._closed:
                raise GraphUnavailable(f"the Neptune connection to {self.endpoint.ws_url} was closed")
            now = self._clock()
            stale = self._signed_at is None or now - self._signed_at >= self.max_age
            if self._remote is None or stale or force_new:
                self._replace(self._sign(now), now)
            assert self._remote is not None
            return self._remote

    def _sign(self, now: datetime) -> dict[str, str]:
        credentials = self._credentials()
        if credentials is None or not credentials.access_key:
            raise GraphUnavailable(f"no AWS credentials found to sign the connection to {self.endpoint.ws_url}: "
                                   "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or use an IAM role")
        return signed_headers(self.endpoint, credentials, now)

    def _replace(self, headers: dict[str, str], now: datetime) -> None:
        old, self._remote = self._remote, None
        if old is not None:
            _quietly_close(old)
        self._remote = self._driver_factory(self.endpoint.ws_url, dict(headers))
        self._signed_at = now

    def _discard(self, remote: RemoteConnection) -> None:
        with self._lock:
            if self._remote is remote:
                self._remote, self._signed_at = None, None
        _quietly_close(remote)

    def is_closed(self) -> bool:
        return self._closed

    def is_session_bound(self) -> bool:
        return False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            remote, self._remote = self._remote, None
        if remote is not None:
            _quietly_close(remote)


def _is_connection_failure(exc: BaseException) -> bool:
    import aiohttp

    if isinstance(exc, OSError | aiohttp.ClientError | TimeoutError | RuntimeError):
        return True
    # gremlinpython turns a refused handshake into a bare Exception("Failed to connect to server: …403…"),
    # and a driver closed by a re-sign in another thread into Exception("Client is closed")
    return any(text in str(exc) for text in ("Failed to connect to server", "Client is closed"))


def _explain(endpoint: NeptuneEndpoint, failure: BaseException | None) -> str:
    detail = str(failure) or type(failure).__name__
    if "403" in detail or "Forbidden" in detail:
        return (f"Neptune at {endpoint.ws_url} refused the IAM signature (HTTP 403) twice: check the AWS "
                f"credentials, the region ({endpoint.region}) and that the IAM policy allows neptune-db:connect")
    return f"cannot reach Neptune at {endpoint.ws_url}: {detail}"


def _quietly_close(remote: RemoteConnection) -> None:
    try:
        remote.close()
    except Exception:  # noqa: BLE001 - closing a broken connection must not hide the first error
        log.debug("closing a Neptune connection failed", exc_info=True)


def neptune_connection(url: str, **options: Any) -> RemoteConnection:
    """The RemoteConnection for a `neptune+wss://` GRAPH_URL (options go to SignedRemoteConnection)."""
    return SignedRemoteConnection(parse_endpoint(url), **options)
