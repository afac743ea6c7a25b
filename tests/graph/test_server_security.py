"""graphserver's protection: SASL PLAIN as TinkerPop servers do it, loopback-only without it, TLS."""
from __future__ import annotations

import base64
import datetime
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.driver.protocol import ConfigurationError, GremlinServerError
from gremlin_python.driver.request import RequestMessage
from gremlin_python.driver.serializer import GraphBinarySerializersV1
from gremlin_python.process.anonymous_traversal import traversal
from websockets.sync.client import connect

from graph.embedded import EmbeddedStore
from graph.server import BackgroundServer, Credentials, GremlinServer, Status, credentials_from_environment

USER = Credentials("analyst", "s3cret-pass")


@pytest.fixture(scope="module")
def secured() -> Iterator[BackgroundServer]:
    store = EmbeddedStore("memory")
    server = BackgroundServer(store, credentials=USER).start()
    yield server
    server.stop()
    store.close()


def test_a_client_with_the_right_credentials_is_served(secured: BackgroundServer) -> None:
    # given gremlinpython with username and password (it answers the 407 challenge with SASL PLAIN)
    remote = DriverRemoteConnection(secured.url, "g", username="analyst", password="s3cret-pass")
    try:
        # when it sends traversals, then they run; the connection stays authenticated
        assert traversal().with_remote(remote).inject(1, 2).to_list() == [1, 2]
        assert traversal().with_remote(remote).inject(3).to_list() == [3]
    finally:
        remote.close()


def test_wrong_or_missing_credentials_are_refused(secured: BackgroundServer) -> None:
    wrong = DriverRemoteConnection(secured.url, "g", username="analyst", password="guess")
    missing = DriverRemoteConnection(secured.url, "g")
    try:
        with pytest.raises(GremlinServerError) as refused:
            traversal().with_remote(wrong).inject(1).to_list()
        with pytest.raises(ConfigurationError, match="requires authentication credentials"):
            traversal().with_remote(missing).inject(1).to_list()
    finally:
        wrong.close()
        missing.close()
    assert refused.value.status_code == Status.UNAUTHORIZED
    assert "Username and/or password are incorrect" in str(refused.value)


def test_the_challenge_and_the_answer_on_the_wire(secured: BackgroundServer) -> None:
    # given a raw WebSocket client speaking GraphBinary
    codec = GraphBinarySerializersV1()
    request_id = uuid.uuid4()
    bytecode = traversal().with_remote(None).inject(7).bytecode  # type: ignore[arg-type]
    query = codec.serialize_message(request_id, RequestMessage("traversal", "bytecode", {"gremlin": bytecode}))
    sasl = base64.b64encode(b"\0analyst\0s3cret-pass").decode()
    answer = codec.serialize_message(request_id, RequestMessage("traversal", "authentication", {"sasl": sasl}))
    with connect(secured.url) as websocket:
        # when it sends a traversal, then the server challenges it without running anything
        websocket.send(query)
        challenge = codec.deserialize_message(websocket.recv())
        # when it answers the challenge, then the original request is answered
        websocket.send(answer)
        result = codec.deserialize_message(websocket.recv())
    assert (challenge["status"]["code"], challenge["status"]["message"]) == (Status.AUTHENTICATE, "authenticate")
    assert challenge["requestId"] == str(request_id)
    assert (result["status"]["code"], [t.object for t in result["result"]["data"]]) == (200, [7])


def test_credentials_check_is_sasl_plain() -> None:
    assert USER.check(base64.b64encode(b"\0analyst\0s3cret-pass").decode())
    assert USER.check(base64.b64encode(b"admin\0analyst\0s3cret-pass").decode())  # an authzid may precede
    assert not USER.check(base64.b64encode(b"\0analyst\0s3cret-pas").decode())
    assert not USER.check(base64.b64encode(b"\0analyst").decode())
    assert not USER.check("not base64!")
    assert not USER.check(None)
    assert "s3cret" not in repr(USER)


def test_credentials_come_from_the_environment_both_or_neither() -> None:
    assert credentials_from_environment({}) is None
    assert credentials_from_environment({"GRAPHSERVER_USERNAME": "a", "GRAPHSERVER_PASSWORD": "b"}) == \
        Credentials("a", "b")
    with pytest.raises(ValueError, match="set both GRAPHSERVER_USERNAME and GRAPHSERVER_PASSWORD, or neither"):
        credentials_from_environment({"GRAPHSERVER_USERNAME": "a"})


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.org"])
def test_binding_beyond_loopback_needs_authentication(host: str) -> None:
    with pytest.raises(ValueError, match=f"refusing to serve {host} without authentication"):
        GremlinServer(EmbeddedStore("memory"), host=host)
    assert GremlinServer(EmbeddedStore("memory"), host=host, credentials=USER).credentials == USER


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_may_be_served_without_authentication(host: str) -> None:
    assert GremlinServer(EmbeddedStore("memory"), host=host).credentials is None


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
                   .not_valid_after(now + datetime.timedelta(hours=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_with_a_certificate(tmp_path: Path) -> None:
    # given a server with a self-signed certificate
    from graph.server import tls_context

    cert, key = _self_signed(tmp_path)
    store = EmbeddedStore("memory")
    server = BackgroundServer(store, host="localhost", ssl_context=tls_context(str(cert), str(key))).start()
    try:
        # when a client that trusts the certificate connects over wss://
        trusted = ssl.create_default_context(cafile=str(cert))
        remote = DriverRemoteConnection(server.url, "g", ssl_options=trusted)
        try:
            values = traversal().with_remote(remote).inject("over tls").to_list()
        finally:
            remote.close()
        # then it is served, and a plain ws:// client gets no answer from the TLS port
        assert server.url.startswith("wss://localhost:")
        assert values == ["over tls"]
        with pytest.raises(Exception):  # noqa: B017, PT011 - the handshake fails in the TLS layer
            connect(server.url.replace("wss://", "ws://"), open_timeout=5)
    finally:
        server.stop()
        store.close()


def test_the_projects_own_connection_authenticates_from_graph_url(secured: BackgroundServer) -> None:
    # given GRAPH_URL naming the user and password (the environment's secret), as the web workers use it
    import graph

    host = secured.url.removeprefix("ws://")
    connection = graph.connect(f"ws://analyst:s3cret-pass@{host}")
    wrong = graph.connect(f"ws://analyst:guess@{host}")
    try:
        # when it reads, then it is served; wrong credentials are refused as a query error
        assert connection.g.inject(1_700_000_000_000).to_list() == [1_700_000_000_000]
        with pytest.raises(graph.GraphQueryError, match="Username and/or password are incorrect"):
            wrong.g.inject(1).to_list()
    finally:
        connection.close()
        wrong.close()
