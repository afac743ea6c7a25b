"""The two decisions a contact flow asks while a caller waits, answered without the web stack's detours.

A decision's own work (one graph read, the model, the rules) is about a third of what a request for it
used to cost: Django's fifteen middleware, URL resolution, DRF's request wrapping, negotiation and
response rendering took the rest, on the one core the process owning the embedded store has. This WSGI
wrapper answers `POST` intent and risk decisions in the ordinary case with the same parts those layers
would call: the API key check (`ApiKeyAuthentication`), the `decide` scope (`DECIDE`), the
decide throttle (`DecideThrottle`), the request serializer's checks (`flat_bodies`: the same answers
for an ordinary body, DRF's for any other), the service, DRF's JSON encoder, the request id and
latency metric of `ObservabilityMiddleware`, Django's request signals (database connections are
recycled as usual) and the host and HTTPS checks of `HttpRequest`.

Django's own receivers of the request signals recycle the thread's database connections and close its
cache connections: for a request whose thread holds no database connection, with caches in local
memory, they have nothing to do and cost a tenth of a decision's Python. The fast path then skips
them; it sends both signals as the full stack does whenever its thread holds a connection (one opened
during the decision is recycled at its end), a cache lives elsewhere, or anyone else listens to them.

Anything out of the ordinary is handed, untouched, to the full stack, which answers it as every
other request: another method or path, a query string (a decision reads none: apps.core.parameters),
a body that is not small JSON, a missing, wrong or expired key, a missing scope, an invalid body, a
throttled caller, a plain-HTTP request where HTTPS is required, a host not allowed, and any
exception of the decision itself (these are raised before the decision is logged, so the full stack
decides again, once). Every error body and status is therefore the API's one shape. A request handed
on after the throttle counted it is counted again by the full stack.

The response headers are the full stack's own: the first successful answer of each path (and scheme) in
a process is the full stack's, and its headers, less the per-request ones, are reused. So the first
decision of each kind in a process takes the long way. Set DECISIONS_FAST_PATH=false to send every
request through the full stack.
"""
from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.cache import close_caches
from django.core.exceptions import DisallowedHost
from django.core.handlers.base import reset_urlconf
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.db import close_old_connections, reset_queries
from django.db.backends.signals import connection_created
from django.urls import resolve, reverse
from prometheus_client import Histogram
from rest_framework.compat import LONG_SEPARATORS, SHORT_SEPARATORS
from rest_framework.exceptions import APIException
from rest_framework.settings import api_settings
from rest_framework.utils import encoders

from apps.core import observability
from apps.core.auth import ApiKeyAuthentication
from apps.core.permissions import DECIDE
from apps.core.throttling import LOCAL_MEMORY, DecideThrottle
from apps.decisions import services
from apps.decisions.api import serializers as s
from apps.decisions.api.flat_bodies import FlatBody

log = logging.getLogger(__name__)
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
MAX_BODY_BYTES = 16_384  # a decision body is a few hundred bytes; larger ones take the full stack
PER_REQUEST_HEADERS = frozenset({"content-length", "x-request-id", "set-cookie", "date"})
LOCAL_CACHES = frozenset({LOCAL_MEMORY, "django.core.cache.backends.dummy.DummyCache"})
DJANGOS_RECEIVERS = ((signals.request_started, frozenset({reset_queries, close_old_connections})),
                     (signals.request_finished, frozenset({close_old_connections, close_caches, reset_urlconf})))
JSON_TYPES = frozenset({"application/json", "application/json;charset=utf-8", "application/json;charset=\"utf-8\""})


def enabled() -> bool:
    configured = getattr(settings, "DECISIONS_FAST_PATH", None)
    if configured is None:
        configured = os.environ.get("DECISIONS_FAST_PATH", "true").lower() not in {"0", "false", "no", "off"}
    return bool(configured)


@dataclass
class _Route:
    """One decision endpoint: its request serializer's checks, its service, its route label and the headers the
    full stack answered it with (per scheme: HTTPS answers carry HSTS)."""

    body: FlatBody  # the request serializer's checks for an ordinary body
    decide: Callable[..., Any]
    route: str
    seconds: Histogram  # the latency metric's child for this route's 200s, bound once
    headers: dict[bool, list[tuple[str, str]]] = field(default_factory=dict)


class DecisionFastPath:
    """WSGI middleware around Django's application; see the module's docstring."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.routes: dict[str, _Route] = {}
        for name, serializer, decide in (("decisions-intent", s.IntentRequestSerializer, services.decide_intent),
                                         ("decisions-risk", s.RiskRequestSerializer, services.decide_risk)):
            path = reverse(name)
            route = str(resolve(path).route)
            self.routes[path] = _Route(FlatBody(serializer), decide, route,
                                       observability.REQUEST_SECONDS.labels("POST", route, "200"))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = self.routes.get(environ.get("PATH_INFO", "")) if environ.get("REQUEST_METHOD") == "POST" else None
        if route is None or environ.get("QUERY_STRING"):  # a query parameter is refused by the full stack
            return self.app(environ, start_response)
        started = time.perf_counter()
        body = _read_body(environ)
        request = WSGIRequest(environ)
        secure = request.is_secure()
        try:
            answer = self._answer(route, request, secure, body, started) if body is not None else None
        except Exception:  # noqa: BLE001 - e.g. the database down while a key is looked up: the full stack answers
            log.debug("decision fast path handed %s on after an error", route.route, exc_info=True)
            answer = None
        if answer is None:
            return self.app(environ, self._learning(route, secure, start_response))
        content, rid = answer
        start_response("200 OK", [*route.headers[secure], ("Content-Length", str(len(content))),
                                  ("X-Request-ID", rid)])
        return [content]

    def _answer(self, route: _Route, request: WSGIRequest, secure: bool, body: bytes,
                started: float) -> tuple[bytes, str] | None:
        """The rendered decision and the request id, or None to hand the request to the full stack."""
        if secure not in route.headers or (settings.SECURE_SSL_REDIRECT and not secure) or not _host_allowed(request):
            return None
        quiet = _signals_idle()
        if not quiet:
            signals.request_started.send(sender=WSGIHandler, environ=request.environ)
        values = _checked_values(route, request, body)
        if values is None:
            return None
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        rid = observability.request_id_for(incoming)
        token = observability.request_id.set(rid)
        try:
            decision = route.decide(**values)
        except Exception:  # noqa: BLE001 - raised before the decision was logged: the full stack answers it
            return None
        finally:
            observability.request_id.reset(token)
        content = render(services.as_dict(decision))
        route.seconds.observe(time.perf_counter() - started)
        if not quiet or _holds_database_connection():
            signals.request_finished.send(sender=WSGIHandler)
        return content, rid

    def _learning(self, route: _Route, secure: bool, start_response: Callable[..., Any]) -> Callable[..., Any]:
        """start_response that keeps the headers of the full stack's first successful answer."""
        if secure in route.headers:
            return start_response

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if status.startswith("200 "):
                route.headers[secure] = [(k, v) for k, v in headers if k.lower() not in PER_REQUEST_HEADERS]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)
        return capture


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """The small JSON body of a decision request, or None (the full stack reads what is left)."""
    media = environ.get("CONTENT_TYPE", "").replace(" ", "").lower()
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if media not in JSON_TYPES or not 0 < length <= MAX_BODY_BYTES:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)  # the full stack reads it again if it answers
    return body if len(body) == length else None


def _signals_idle() -> bool:
    """Whether Django's request signals would do nothing for a request on this thread (see the module's
    docstring): only Django's receivers listen, every cache is in local memory, no connection is held."""
    return (_only_djangos_receivers()
            and all(cache["BACKEND"] in LOCAL_CACHES for cache in settings.CACHES.values())
            and not _holds_database_connection())


def _only_djangos_receivers() -> bool:
    for signal, expected in DJANGOS_RECEIVERS:
        found = {r() if isinstance(r, weakref.ReferenceType) else r for _, r, *_ in signal.receivers}
        if found != expected:
            return False
    return True


_thread = threading.local()


def _note_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Remember the database connections opened on this thread (a connection belongs to one thread)."""
    opened = _thread.__dict__.setdefault("connections", [])
    if not any(known is connection for known in opened):
        opened.append(connection)


connection_created.connect(_note_connection, dispatch_uid="decisions-fast-path-connections")


def _holds_database_connection() -> bool:
    """Whether this thread has a database connection open: read from the connections it opened, without
    the cost of walking Django's per-thread connection handler."""
    return any(c.connection is not None for c in _thread.__dict__.get("connections", ()))


_hosts: dict[tuple[Any, ...], bool] = {}
_hosts_lock = threading.Lock()


def _host_allowed(request: WSGIRequest) -> bool:
    """`HttpRequest.get_host`'s check, remembered per host headers and settings (a few distinct values
    reach a hub, each checked once)."""
    meta = request.META
    key = (meta.get("HTTP_X_FORWARDED_HOST"), meta.get("HTTP_HOST"), meta.get("SERVER_NAME"),
           meta.get("SERVER_PORT"), meta.get("HTTP_X_FORWARDED_PORT"), settings.USE_X_FORWARDED_HOST,
           settings.USE_X_FORWARDED_PORT, settings.DEBUG, tuple(settings.ALLOWED_HOSTS))
    allowed = _hosts.get(key)
    if allowed is None:
        try:
            request.get_host()
            allowed = True
        except DisallowedHost:
            allowed = False
        with _hosts_lock:
            if len(_hosts) >= 256:  # forged Host headers must not grow it without end
                _hosts.clear()
            _hosts[key] = allowed
    return allowed


def _checked_values(route: _Route, request: WSGIRequest, body: bytes) -> dict[str, Any] | None:
    """What the view would pass to the service, after the view's own checks in DRF's order (key, scope,
    then the body, then the throttle, so a refused body is not counted twice); None when any refuses."""
    caller: Any = request
    try:
        found = ApiKeyAuthentication().authenticate(caller)
    except APIException:
        return None
    if found is None:
        return None
    caller.user, caller.auth = found
    if not DECIDE().has_permission(caller, None):
        return None
    data = parse(body)
    if data is None:
        return None
    validated = route.body.validated(data)
    if validated is None or not DecideThrottle().allow_request(caller, None):
        return None
    return {k: v for k, v in validated.items() if v not in ("", None)}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_strict_decoder = json.JSONDecoder(parse_constant=_refuse_constant)
_decoder = json.JSONDecoder()


def parse(body: bytes) -> dict[str, Any] | None:
    """The body as `apps.core.parsers.JSONParser` reads it (UTF-8, NaN and Infinity refused under
    STRICT_JSON) when it is a flat JSON object, as every decision body is; None for anything else (the
    full stack parses it and answers). The same decoder without the parser's stream wrapping."""
    try:
        text = body.decode(settings.DEFAULT_CHARSET)
        if text.startswith("\ufeff"):  # json.loads refuses a byte order mark; so does the parser
            return None
        data = (_strict_decoder if api_settings.STRICT_JSON else _decoder).decode(text)
    except ValueError:  # UnicodeDecodeError and json.JSONDecodeError are ValueErrors
        return None
    if not isinstance(data, dict) or any(isinstance(v, dict | list) for v in data.values()):
        return None
    return data


_encoder = encoders.JSONEncoder(ensure_ascii=not api_settings.UNICODE_JSON, allow_nan=not api_settings.STRICT_JSON,
                                separators=SHORT_SEPARATORS if api_settings.COMPACT_JSON else LONG_SEPARATORS)


def render(data: dict[str, Any]) -> bytes:
    """The bytes DRF's `JSONRenderer` writes for `data` (same encoder class and options, U+2028/9
    escaped), from one encoder built at import instead of a renderer and an encoder per request."""
    return _encoder.encode(data).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


def wrap(app: WsgiApp) -> WsgiApp:
    """Django's WSGI application with the decision fast path in front, unless DECISIONS_FAST_PATH is off."""
    return DecisionFastPath(app) if enabled() else app
