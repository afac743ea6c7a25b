"""Neptune IAM signing against a local Gremlin server that verifies SigV4 on the WebSocket handshake.

The server is the project's own Gremlin server (graph.server) with a handshake check that recomputes the
canonical request and signature with botocore from the credentials it knows, as Neptune does, and
answers HTTP 403 when the signature is missing, wrong or more than five minutes from its clock.
Credentials are fake and come from the environment; nothing leaves 127.0.0.1.
"""
from __future__ import annotations

import hmac
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.traversal import T
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request, Response
from websockets.sync.client import connect as ws_connect

import graph
from graph.embedded import MEMORY, EmbeddedStore
from graph.errors import GraphUnavailable
from graph.neptune import SignedRemoteConnection, neptune_connection, parse_endpoint
from graph.server import BackgroundServer

ACCESS_KEY = "AKIDNEPTUNETEST00001"
SECRET = "neptune-test-secret-key"
TOKEN = "session-token-for-tests"
REGION = "us-east-1"
TOLERANCE = timedelta(minutes=5)
AUTHORIZATION = re.compile(r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
                           r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[^,]+), "
                           r"Signature=(?P<sig>[0-9a-f]+)$")


class FakeClock:
    """Shared by client and server, so a signature can age without sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class SigV4Checker:
    """What Neptune does with the upgrade request: verify the signature, then let it through or say 403."""

    clock: FakeClock
    secrets: dict[str, str] = field(default_factory=lambda: {ACCESS_KEY: SECRET})
    tokens: dict[str, str] = field(default_factory=dict)
    handshakes: list[dict[str, str]] = field(default_factory=list)

    def __call__(self, connection: ServerConnection, request: Request) -> Response | None:
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        verdict = self.verdict(request.path, headers)
        self.handshakes.append({"verdict": verdict, "date": headers.get("x-amz-date", ""),
                                "token": headers.get("x-amz-security-token", "")})
        return None if verdict == "accepted" else connection.respond(HTTPStatus.FORBIDDEN, verdict + "\n")

    def verdict(self, path: str, headers: dict[str, str]) -> str:
        match = AUTHORIZATION.match(headers.get("authorization", ""))
        if match is None or "x-amz-date" not in headers:
            return "missing signature"
        signed = match["signed"].split(";")
        if not {"host", "x-amz-date"} <= set(signed) or any(name not in headers for name in signed):
            return "host and x-amz-date must be signed"
        if match["key"] not in self.secrets:
            return "unknown access key"
        if (match["service"], match["region"], match["date"]) != ("neptune-db", REGION, headers["x-amz-date"][:8]):
            return "wrong credential scope"
        expected_token = self.tokens.get(match["key"])
        if expected_token and (headers.get("x-amz-security-token") != expected_token
                               or "x-amz-security-token" not in signed):
            return "missing or wrong session token"
        signed_at = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if abs(self.clock() - signed_at) > TOLERANCE:
            return "signature expired"
        expected = self.signature(path, headers, signed, match["key"], expected_token)
        return "accepted" if hmac.compare_digest(expected, match["sig"]) else "signature mismatch"

    def signature(self, path: str, headers: dict[str, str], signed: list[str], key: str, token: str | None) -> str:
        """Recompute from exactly the headers the client says it signed, with the secret we hold."""
        request = AWSRequest(method="GET", url=f"https://{headers['host']}{path}",
                             headers={name: headers[name] for name in signed})
        request.context["timestamp"] = headers["x-amz-date"]
        auth = SigV4Auth(ReadOnlyCredentials(key, self.secrets[key], token), "neptune-db", REGION)
        return auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def checker(clock: FakeClock) -> SigV4Checker:
    return SigV4Checker(clock)


@pytest.fixture
def server(checker: SigV4Checker) -> Iterator[BackgroundServer]:
    store = EmbeddedStore(MEMORY)
    background = BackgroundServer(store, process_request=checker).start()
    yield background
    background.stop()
    store.close()


@pytest.fixture
def neptune_url(server: BackgroundServer) -> str:
    return f"neptune+ws://127.0.0.1:{server.server.port}/gremlin?region={REGION}"


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Only the environment provides credentials: no profile files, no instance metadata lookups."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_REGION",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def _connection(url: str, clock: FakeClock, **options: object) -> SignedRemoteConnection:
    remote = neptune_connection(url, clock=clock, **options)
    assert isinstance(remote, SignedRemoteConnection)
    return remote


def test_signed_connection_runs_traversals(neptune_url: str, clock: FakeClock, checker: SigV4Checker) -> None:
    # given a connection signed with the environment's credentials
    remote = _connection(neptune_url, clock)
    g = traversal().with_remote(remote)
    try:
        # when a vertex is written and read back
        g.add_v("customer").property(T.id, "customer:c1").property("first_seen", 1700000000000).iterate()
        first_seen = g.V("customer:c1").values("first_seen").next()
    finally:
        remote.close()
    # then the server accepted the signed handshakes (one per pooled socket used) and the traversals ran
    assert first_seen == 1700000000000
    assert checker.handshakes == [{"verdict": "accepted", "date": clock.now.strftime("%Y%m%dT%H%M%SZ"),
                                   "token": ""}] * 2


def test_graph_url_with_neptune_scheme_goes_through_the_gateway(settings, neptune_url: str,  # type: ignore[no-untyped-def]
                                                                checker: SigV4Checker) -> None:
    settings.GRAPH_URL = neptune_url
    graph.reset_connection()
    try:
        graph.get_g().add_v("milestone").property(T.id, "milestone:applied").iterate()
        assert graph.get_g().V().id_().to_list() == ["milestone:applied"]
        assert graph.health()["status"] == "ok"
    finally:
        graph.reset_connection()  # close the sockets before the server stops
    assert {h["verdict"] for h in checker.handshakes} == {"accepted"}


def test_wrong_secret_is_refused_with_a_clear_error(monkeypatch: pytest.MonkeyPatch, neptune_url: str,
                                                    clock: FakeClock, checker: SigV4Checker) -> None:
    # given credentials whose secret the server does not recognise
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    remote = _connection(neptune_url, clock)
    # when a traversal is sent, then it fails after one fresh re-signed attempt, naming the cause
    with pytest.raises(GraphUnavailable, match=r"refused the IAM signature \(HTTP 403\) twice: check the AWS "
                                               r"credentials, the region \(us-east-1\)"):
        traversal().with_remote(remote).V().count().next()
    remote.close()
    assert [h["verdict"] for h in checker.handshakes] == ["signature mismatch", "signature mismatch"]


def test_the_server_refuses_an_unsigned_handshake(server: BackgroundServer, checker: SigV4Checker) -> None:
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(f"ws://127.0.0.1:{server.server.port}/gremlin").close()
    assert refused.value.response.status_code == 403
    assert checker.handshakes == [{"verdict": "missing signature", "date": "", "token": ""}]


def test_connection_re_signs_before_the_signature_is_too_old(neptune_url: str, clock: FakeClock,
                                                             checker: SigV4Checker) -> None:
    # given a connection that re-signs after four minutes
    remote = _connection(neptune_url, clock, max_age=timedelta(minutes=4))
    g = traversal().with_remote(remote)
    first_signed = clock.now
    try:
        assert g.V().count().next() == 0
        # when three minutes pass the same signature is still used
        clock.advance(minutes=3)
        assert g.V().count().next() == 0
        assert remote.signed_at == first_signed
        # when more than four minutes have passed since signing, the next call signs anew
        clock.advance(minutes=1, seconds=30)
        assert g.V().count().next() == 0
    finally:
        remote.close()
    # then a second handshake carried the new time, and the server never saw a stale one
    assert remote.signed_at == first_signed + timedelta(minutes=4, seconds=30)
    dates = [h["date"] for h in checker.handshakes]
    assert dates[0] == first_signed.strftime("%Y%m%dT%H%M%SZ")
    assert dates[-1] == remote.signed_at.strftime("%Y%m%dT%H%M%SZ")
    assert {h["verdict"] for h in checker.handshakes} == {"accepted"}


def test_an_expired_signature_is_retried_once_with_a_new_one(neptune_url: str, clock: FakeClock,
                                                             checker: SigV4Checker) -> None:
    # given a connection that would not re-sign on its own for an hour
    remote = _connection(neptune_url, clock, max_age=timedelta(hours=1))
    g = traversal().with_remote(remote)
    first_signed = clock.now
    try:
        assert g.V().count().next() == 0
        # when six minutes later the driver opens another pooled socket with the old signature
        clock.advance(minutes=6)
        assert g.V().count().next() == 0
    finally:
        remote.close()
    # then the server refused the stale handshake and the retry signed afresh
    stamp = "%Y%m%dT%H%M%SZ"
    assert checker.handshakes == [
        {"verdict": "accepted", "date": first_signed.strftime(stamp), "token": ""},
        {"verdict": "signature expired", "date": first_signed.strftime(stamp), "token": ""},
        {"verdict": "accepted", "date": clock.now.strftime(stamp), "token": ""},
    ]


def test_session_token_is_sent_and_signed(monkeypatch: pytest.MonkeyPatch, neptune_url: str, clock: FakeClock,
                                          checker: SigV4Checker) -> None:
    # given temporary credentials, whose token the server insists on
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    checker.tokens[ACCESS_KEY] = TOKEN
    remote = _connection(neptune_url, clock)
    try:
        assert traversal().with_remote(remote).V().count().next() == 0
    finally:
        remote.close()
    assert checker.handshakes == [{"verdict": "accepted", "date": clock.now.strftime("%Y%m%dT%H%M%SZ"),
                                   "token": TOKEN}]


def test_a_missing_session_token_is_refused(neptune_url: str, clock: FakeClock, checker: SigV4Checker) -> None:
    checker.tokens[ACCESS_KEY] = TOKEN
    remote = _connection(neptune_url, clock)
    with pytest.raises(GraphUnavailable, match="HTTP 403"):
        traversal().with_remote(remote).V().count().next()
    remote.close()
    assert [h["verdict"] for h in checker.handshakes] == ["missing or wrong session token"] * 2


def test_missing_credentials_are_reported(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    remote = _connection("neptune+ws://127.0.0.1:9/gremlin", clock)
    with pytest.raises(GraphUnavailable, match="no AWS credentials found to sign the connection to "
                                               "ws://127.0.0.1:9/gremlin"):
        traversal().with_remote(remote).V().count().next()


def test_an_unreachable_endpoint_is_unavailable(clock: FakeClock) -> None:
    remote = _connection("neptune+ws://127.0.0.1:9/gremlin", clock)
    with pytest.raises(GraphUnavailable, match=r"cannot reach Neptune at ws://127\.0\.0\.1:9/gremlin"):
        traversal().with_remote(remote).V().count().next()


@pytest.mark.parametrize(("url", "environ", "region"), [
    ("neptune+wss://db.cluster-abc.eu-west-2.neptune.amazonaws.com:8182/gremlin", {}, "eu-west-2"),
    ("neptune+wss://db.cluster-ro-x.us-gov-west-1.neptune.amazonaws.com/gremlin", {"AWS_REGION": "x"}, "us-gov-west-1"),
    ("neptune+wss://localhost:8182/gremlin", {"AWS_REGION": "ap-southeast-2"}, "ap-southeast-2"),
    ("neptune+wss://localhost:8182/gremlin", {"AWS_DEFAULT_REGION": "ca-central-1"}, "ca-central-1"),
    ("neptune+wss://localhost:8182/gremlin?region=sa-east-1", {"AWS_REGION": "x"}, "sa-east-1"),
])
def test_region_comes_from_the_url_then_the_host_then_the_environment(url: str, environ: dict[str, str],
                                                                      region: str) -> None:
    endpoint = parse_endpoint(url, environ)
    assert endpoint.region == region
    assert endpoint.signing_url.startswith(f"https://{endpoint.host}:8182/gremlin")
    assert endpoint.ws_url == f"wss://{endpoint.host}:8182/gremlin"


def test_bad_neptune_urls_are_explained() -> None:
    with pytest.raises(ValueError, match="cannot tell the AWS region of localhost: set AWS_REGION"):
        parse_endpoint("neptune+wss://localhost:8182/gremlin", {})
    with pytest.raises(ValueError, match="not a Neptune URL"):
        parse_endpoint("wss://localhost:8182/gremlin", {})


def test_a_black_holed_endpoint_is_unavailable_within_the_connect_deadline(clock: FakeClock, settings) -> None:  # type: ignore[no-untyped-def]
    """Accepts the TCP connection, never answers the handshake: bounded by GRAPH_CONNECT_TIMEOUT (twice:
    the connection is re-signed and tried once more)."""
    import time

    from tests.netfixtures import BlackHole

    settings.GRAPH_CONNECT_TIMEOUT = 0.5
    hole = BlackHole()
    remote = _connection(f"neptune+ws://127.0.0.1:{hole.port}/gremlin", clock)
    try:
        started = time.monotonic()
        with pytest.raises(GraphUnavailable, match="no WebSocket handshake within 0.5 s"):
            traversal().with_remote(remote).V().count().next()
        elapsed = time.monotonic() - started
    finally:
        remote.close()
        hole.close()
    assert elapsed < 3.0
