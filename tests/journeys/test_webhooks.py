"""Webhook safety: where deliveries may go, how long one may take, who sees the receiver's answer, and
that overlapping runs never post one delivery twice — against real HTTP servers on 127.0.0.1."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from apps.core.models import ApiKey
from apps.journeys import webhooks
from apps.journeys.models import Webhook, WebhookDelivery
from tests.problems import field_errors

REFUSED_URLS = ["http://127.0.0.1:8000/hook", "http://[::1]/hook", "http://169.254.169.254/latest/meta-data/",
                "http://10.1.2.3/hook", "http://192.168.0.10/hook", "http://[fd00:ec2::254]/latest",
                "http://localhost/hook", "http://[::ffff:127.0.0.1]/hook", "http://0.0.0.0/hook",
                "http://100.100.100.200/latest"]


class Server:
    """A real HTTP server on 127.0.0.1; `respond(handler)` decides each answer (default: 200)."""

    def __init__(self, respond: Any = None) -> None:
        self.requests: list[tuple[str, Any, bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.requests.append((self.path, self.headers, body))
                if respond is not None:
                    respond(self)
                    return
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_port
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def loopback_allowed(settings) -> None:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


def _due(url: str) -> WebhookDelivery:
    hook = Webhook.objects.create(name="crm", url=url, secret="s3cret-key")
    return WebhookDelivery.objects.create(webhook=hook, payload={"n": 1}, next_attempt_at=timezone.now())


@pytest.fixture
def admin_client(db) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(User.objects.create_user("root", is_staff=True))
    return client


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_webhooks_to_internal_addresses_are_refused(admin_client: APIClient, url: str) -> None:
    response = admin_client.post("/api/webhooks/", {"name": "x", "url": url, "secret": "long-enough"},
                                 format="json")

    assert "not a public address" in field_errors(response)["url"][0]
    assert not Webhook.objects.exists()


def test_an_allowed_network_may_be_a_target_and_the_admin_form_checks_too(admin_client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    allowed = admin_client.post("/api/webhooks/", {"name": "lab", "url": "http://127.0.0.1:9/hook",
                                                   "secret": "long-enough"}, format="json")
    with pytest.raises(ValidationError, match="169.254.169.254, which is not a public address"):
        Webhook(name="meta", url="http://169.254.169.254/", secret="long-enough").full_clean()

    assert allowed.status_code == 201


def test_a_stored_internal_target_is_refused_at_delivery_without_connecting(db, server: Server) -> None:
    delivery = _due(server.url)  # stored before the rule, or straight in the database

    report = webhooks.deliver_due()

    delivery.refresh_from_db()
    assert (report.attempted, report.delivered, server.requests) == (1, 0, [])
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert "resolves to 127.0.0.1, which is not a public address" in delivery.last_error


def test_the_connection_goes_to_the_checked_address_with_the_url_host(db, loopback_allowed, server: Server) -> None:
    delivery = _due(f"http://localhost:{server.port}/hook")

    webhooks.deliver_due()

    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert server.requests[0][1]["Host"] == f"localhost:{server.port}"


def _redirect_to(location: str) -> Any:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(307)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return respond


def test_redirects_are_not_followed_by_default(db, loopback_allowed, server: Server) -> None:
    redirecting = Server(_redirect_to(server.url))
    try:
        delivery = _due(redirecting.url)
        webhooks.deliver_due()
    finally:
        redirecting.close()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code, server.requests) == ("pending", 307, [])
    assert delivery.last_error == (f"HTTP 307: redirected to {server.url}; redirects are not followed beyond "
                                   "WEBHOOK_MAX_REDIRECTS=0")


def test_allowed_redirects_are_checked_like_the_first_target(db, loopback_allowed, settings, server: Server) -> None:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_MAX_REDIRECTS = 1
    to_receiver = Server(_redirect_to(server.url))
    to_metadata = Server(_redirect_to("http://169.254.169.254/latest/meta-data/"))
    try:
        followed, refused = _due(to_receiver.url), _due(to_metadata.url)
        webhooks.deliver_due()
    finally:
        to_receiver.close()
        to_metadata.close()

    followed.refresh_from_db()
    refused.refresh_from_db()
    assert followed.status == "delivered" and len(server.requests) == 1
    assert refused.status == "pending" and "169.254.169.254, which is not a public address" in refused.last_error


class DripServer:
    """Answers a status line at once, then one header byte every 50 ms for as long as the client listens:
    every single read succeeds quickly, only a total deadline ends it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
                while not self.stop.wait(0.05):
                    conn.sendall(b"a")
            except OSError:
                return  # the client hung up: the point of the test

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


def test_a_dripping_receiver_is_cut_off_at_the_total_deadline(db, loopback_allowed, settings) -> None:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_TIMEOUT = 1.0
    drip = DripServer()
    try:
        delivery = _due(drip.url)
        started = time.monotonic()
        report = webhooks.deliver_due()
        elapsed = time.monotonic() - started
    finally:
        drip.close()

    delivery.refresh_from_db()
    assert (report.delivered, report.rescheduled) == (0, 1)
    assert (delivery.status, delivery.last_status_code) == ("pending", None)
    assert delivery.last_error == "no complete answer within 1 s"
    assert 0.9 < elapsed < 3.0


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_runs_never_post_the_same_delivery(loopback_allowed) -> None:
    """Run A is held inside its first POST while run B runs from start to end."""
    b_finished = threading.Event()
    first_request = threading.Event()

    def hold_the_first(handler: BaseHTTPRequestHandler) -> None:
        if not first_request.is_set():
            first_request.set()
            b_finished.wait(10)
        handler.send_response(200)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    receiver = Server(hold_the_first)
    hook = Webhook.objects.create(name="crm", url=receiver.url, secret="s3cret-key")
    now = timezone.now()
    WebhookDelivery.objects.bulk_create([WebhookDelivery(webhook=hook, payload={"n": n}, next_attempt_at=now)
                                         for n in range(2)])
    reports: dict[str, webhooks.DeliveryReport] = {}

    def run_a() -> None:
        from django.db import connection
        try:
            reports["a"] = webhooks.deliver_due(now=now)
        finally:
            connection.close()

    thread = threading.Thread(target=run_a)
    try:
        thread.start()
        assert first_request.wait(10)
        reports["b"] = webhooks.deliver_due(now=now)
        b_finished.set()
        thread.join(10)
    finally:
        b_finished.set()
        receiver.close()

    posted = [headers["X-JourneyHub-Delivery"] for _, headers, _ in receiver.requests]
    assert sorted(posted) == sorted(str(pk) for pk in WebhookDelivery.objects.values_list("pk", flat=True))
    assert reports["a"].attempted + reports["b"].attempted == 2
    assert list(WebhookDelivery.objects.values_list("status", "attempts")) == [("delivered", 1)] * 2


def test_every_delivery_is_signed_at_its_own_sending_time(db, loopback_allowed, server: Server) -> None:
    an_hour_ago = timezone.now() - timedelta(hours=1)
    hook = Webhook.objects.create(name="crm", url=server.url, secret="s3cret-key")
    WebhookDelivery.objects.create(webhook=hook, payload={"n": 1}, next_attempt_at=an_hour_ago)
    before = int(time.time())

    webhooks.deliver_due(now=an_hour_ago)

    _, headers, body = server.requests[0]
    stamp = headers["X-JourneyHub-Timestamp"]
    assert int(stamp) >= before
    assert webhooks.verify("s3cret-key", stamp, body, headers["X-JourneyHub-Signature"])
    assert not webhooks.verify("s3cret-key", stamp, body, headers["X-JourneyHub-Signature"],
                               now=int(stamp) + 301)


def test_the_receivers_answer_is_shown_to_admins_only(db, server: Server) -> None:  # type: ignore[no-untyped-def]
    delivery = _due(server.url)
    webhooks.deliver_due()  # refused: loopback is not allowed here
    analyst = APIClient()
    user = User.objects.create_user("ana")
    user.groups.add(Group.objects.get_or_create(name="analyst")[0])
    analyst.force_authenticate(user)
    admin = APIClient()
    admin.force_authenticate(User.objects.create_user("root", is_staff=True))
    reader, manager = APIClient(), APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKey.issue('reader', scopes=['read'])[1]}")
    manager.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKey.issue('ops', scopes=['manage'])[1]}")
    url = f"/api/webhooks/{delivery.webhook_id}/deliveries/"

    answers = {name: client.get(url) for name, client in
               (("admin", admin), ("manage key", manager), ("analyst", analyst), ("read key", reader))}

    assert {name: r.status_code for name, r in answers.items()} == {
        "admin": 200, "manage key": 200, "analyst": 403, "read key": 403}
    for name in ("admin", "manage key"):
        row = answers[name].json()["results"][0]
        assert "not a public address" in row["last_error"] and row["status"] == "pending"


def _masked_for(request_user: object) -> dict[str, object]:
    """What the delivery serializer shows a caller who is not an admin (defence in depth: such callers
    are refused by the endpoint's rule before it runs)."""
    from types import SimpleNamespace

    from apps.journeys.api.serializers import WebhookDeliverySerializer

    delivery = WebhookDelivery.objects.get()
    request = SimpleNamespace(user=request_user, auth=None)
    data = WebhookDeliverySerializer(delivery, context={"request": request}).data
    return {"last_status_code": data["last_status_code"], "last_error": data["last_error"]}


def test_the_serializer_masks_the_receivers_answer_for_non_admins(db, server: Server) -> None:  # type: ignore[no-untyped-def]
    _due(server.url)
    webhooks.deliver_due()
    analyst = User.objects.create_user("ana")
    analyst.groups.add(Group.objects.get_or_create(name="analyst")[0])

    assert _masked_for(analyst) == {"last_status_code": None, "last_error": ""}
    assert "not a public address" in str(_masked_for(User.objects.create_user("root", is_staff=True))["last_error"])


def test_deliver_webhooks_command_reports_the_run(db, loopback_allowed, server: Server, capsys) -> None:  # type: ignore[no-untyped-def]
    _due(server.url)

    call_command("deliver_webhooks")

    assert capsys.readouterr().out == "1 attempted, 1 delivered, 0 rescheduled, 0 failed\n"


@pytest.fixture
def tls_server(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[tuple[Server, Any]]:  # type: ignore[no-untyped-def]
    """An HTTPS receiver on 127.0.0.1 whose certificate names "localhost", issued by a test CA that the
    process trusts (SSL_CERT_FILE), as a receiver with a private CA in an allowed network would be."""
    import ssl

    import trustme

    authority = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    running = Server()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(context)
    running.httpd.socket = context.wrap_socket(running.httpd.socket, server_side=True)
    yield running, authority
    running.close()


def test_https_goes_to_the_checked_address_and_checks_the_certificate_against_the_url_host(
        db, settings, tls_server) -> None:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    server, _ = tls_server
    by_name = _due(f"https://localhost:{server.port}/hook")
    by_address = _due(f"https://127.0.0.1:{server.port}/hook")  # the certificate does not name 127.0.0.1

    webhooks.deliver_due()

    by_name.refresh_from_db()
    by_address.refresh_from_db()
    assert (by_name.status, by_name.last_status_code) == ("delivered", 200)
    assert [headers["Host"] for _, headers, _ in server.requests] == [f"localhost:{server.port}"]
    assert by_address.status == "pending" and "CERTIFICATE_VERIFY_FAILED" in by_address.last_error
