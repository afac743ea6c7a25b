"""The one HTTP client webhooks use: public targets only, pinned addresses, a total deadline.

A webhook URL is typed by an administrator but answered by anyone who controls its DNS, so:
- every address the host name resolves to must be public (not loopback, link-local, private, shared,
  reserved or multicast: 127.0.0.1, [::1], 169.254.169.254, 10/8, fd00::/8 …) unless it falls in
  WEBHOOK_ALLOWED_NETWORKS; a name that resolves to several addresses is refused if any is refused;
- the connection goes to the address that was checked (the Host header and the TLS server name stay
  the URL's), so a second DNS answer cannot swap in another address (DNS rebinding);
- redirects are not followed unless WEBHOOK_MAX_REDIRECTS allows it, and then each target is checked
  the same way;
- one deadline covers the whole delivery (connect, send, status line, headers and body): a receiver
  that drips one byte at a time is cut off at WEBHOOK_TIMEOUT, where a per-read timeout never fires.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from django.conf import settings

MAX_ANSWER_BYTES = 64 * 1024  # the body is read (to see the answer complete) but not kept
REDIRECTS = {301, 302, 303, 307, 308}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTarget(ValueError):
    """The URL may not be posted to: wrong scheme, unresolvable, or an address that is not public."""


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked address the connection is pinned to


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return [ipaddress.ip_network(n, strict=False) for n in settings.WEBHOOK_ALLOWED_NETWORKS]
    except ValueError as exc:
        raise UnsafeTarget(f"WEBHOOK_ALLOWED_NETWORKS holds an invalid network: {exc}") from exc


def is_allowed(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed_networks()):
        return True
    return address.is_global and not address.is_multicast


def check_url(url: str) -> Target:
    """Resolve the URL's host and check every address it resolves to; the first becomes the pinned one."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UnsafeTarget(f"webhook URL must be http(s)://host/…, got {url[:80]!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeTarget(f"webhook URL has an invalid port: {url[:80]!r}") from exc
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"cannot resolve the webhook host {parts.hostname!r}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        if not is_allowed(ipaddress.ip_address(address.split("%")[0])):
            raise UnsafeTarget(f"webhook host {parts.hostname!r} resolves to {address}, which is not a public "
                               "address (loopback, private, link-local or reserved); allow its network in "
                               "WEBHOOK_ALLOWED_NETWORKS if this is intended")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url=url, scheme=parts.scheme, host=parts.hostname, port=port, path=path, address=addresses[0])


@dataclass(frozen=True)
class Answer:
    status: int | None
    error: str


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST once to a checked target within WEBHOOK_TIMEOUT; follow allowed redirects, each checked."""
    deadline = time.monotonic() + settings.WEBHOOK_TIMEOUT
    for _ in range(settings.WEBHOOK_MAX_REDIRECTS + 1):
        try:
            target = check_url(url)
        except UnsafeTarget as exc:
            return Answer(None, str(exc))
        status, location, error = _post_once(target, body, headers, deadline)
        if status not in REDIRECTS or not location:
            return Answer(status, error)
        url = urljoin(target.url, location)
    return Answer(status, f"HTTP {status}: redirected to {url[:200]}; redirects are not followed beyond "
                          f"WEBHOOK_MAX_REDIRECTS={settings.WEBHOOK_MAX_REDIRECTS}")


def _post_once(target: Target, body: bytes, headers: dict[str, str],
               deadline: float) -> tuple[int | None, str, str]:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None, "", f"no complete answer within {settings.WEBHOOK_TIMEOUT:g} s"
    connection = _connection(target, min(remaining, settings.WEBHOOK_CONNECT_TIMEOUT))
    watchdog = _Watchdog(connection, remaining)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_ANSWER_BYTES)
        if watchdog.fired:  # a cut-off answer can look complete: http.client takes EOF as its end
            return None, "", f"no complete answer within {settings.WEBHOOK_TIMEOUT:g} s"
        status = int(response.status)
        error = "" if 200 <= status < 300 else f"HTTP {status} {response.reason}"[:200]
        return status, response.getheader("Location") or "", error
    except (OSError, http.client.HTTPException) as exc:
        if watchdog.fired:
            return None, "", f"no complete answer within {settings.WEBHOOK_TIMEOUT:g} s"
        return None, "", f"{type(exc).__name__}: {exc}"[:500]
    finally:
        watchdog.cancel()
        connection.close()


def _connection(target: Target, connect_timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPSConnection(target.host, target.port, target.address, connect_timeout)
    return _PinnedHTTPConnection(target.host, target.port, target.address, connect_timeout)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address; Host stays the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to the checked address; the certificate is checked against the URL's host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


class _Watchdog:
    """Shuts the connection's socket down when the delivery's deadline passes: blocking reads return at
    once, however slowly the receiver sends."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self.connection = connection
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        sock = self.connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        self._timer.cancel()
