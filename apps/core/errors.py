"""Every API error as RFC 9457 problem details (apps.core.problems): a client always gets a reason in
one shape, never a stack trace or an HTML page.

`api_exception_handler` covers what DRF views raise; the `handler*` functions (installed in
journeyhub/urls.py) cover what happens outside a view — an unknown /api/ URL, a bad Host header, an
exception no view handled — while dashboard pages keep the site's HTML error pages.
"""
from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.views import set_rollback

from apps.core.auth import not_an_api_key
from apps.core.parsers import MalformedJSON
from apps.core.problems import is_api, problem_response
from apps.events.store import EventStoreError
from graph.errors import GraphUnavailable

log = logging.getLogger(__name__)

REQUEST_WIDE = ("non_field_errors", "detail")


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse | None:
    request = context.get("request")
    if isinstance(exc, GraphUnavailable):
        log.warning("graph store unavailable: %s", exc)
        return problem_response(request, 503, str(exc), type_name="graph-unavailable")
    if isinstance(exc, EventStoreError):  # the graph kept the events: the client's retry copies them
        log.warning("%s", exc)
        return problem_response(request, 503, str(exc), type_name="event-store-unavailable")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if not isinstance(exc, exceptions.APIException):
        return None  # raised on: the middleware or handler500 answers
    set_rollback()
    if isinstance(exc, exceptions.ValidationError):
        return invalid_request(request, exc.detail)
    if isinstance(exc, exceptions.ParseError):  # a body that is not JSON: where it breaks
        position = exc.position if isinstance(exc, MalformedJSON) else {}
        return problem_response(request, 400, _text(exc.detail), type_name="invalid-request", errors=[
            {"field": None, "detail": _text(exc.detail), "code": "parse_error", **position}])
    detail = _text(exc.detail)
    if isinstance(exc, exceptions.NotAuthenticated) and request is not None:
        detail = not_an_api_key(request) or detail
    headers: dict[str, str] = {}
    extensions: dict[str, Any] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = str(exc.auth_header)  # type: ignore[attr-defined]
    wait = getattr(exc, "wait", None)
    if wait is not None:
        headers["Retry-After"] = str(int(wait))
        extensions["retry_after"] = int(wait)
    return problem_response(request, exc.status_code, detail, headers=headers,
                            type_name=getattr(exc, "problem_type", None), **extensions)


class NamedNotFound:
    """A viewset whose 404 names what was asked for ("no KPI 'nps'", "no webhook 7"), where DRF's says
    "No KpiDefinition matches the given query.": a model class no client knows. `noun` names the kind."""

    noun = "object"
    lookup_field: str
    lookup_url_kwarg: str | None
    kwargs: dict[str, Any]

    def get_object(self) -> Any:
        try:
            return super().get_object()  # type: ignore[misc]
        except Http404:
            raise Http404(not_found(self.noun, self.kwargs[self.lookup_url_kwarg or self.lookup_field])) from None


def not_found(noun: str, value: str) -> str:
    """"no webhook 7" for a number, "no KPI 'nps'" for a name."""
    return f"no {noun} {value}" if str(value).isdigit() else f"no {noun} {value!r}"


def invalid_request(request: Any, detail: Any) -> HttpResponse:
    """A 400 naming each field or parameter at fault (`errors`) and summing them up (`detail`)."""
    errors = field_errors(detail)
    summary = "; ".join(f"{e['field']}: {e['detail']}" if e["field"] else e["detail"] for e in errors)
    return problem_response(request, 400, summary or "The request is not valid.", type_name="invalid-request",
                            errors=errors)


def field_errors(detail: Any, path: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """DRF's nested error detail (dicts by field, lists per field or per list item) as a flat list."""
    if isinstance(detail, dict):
        found: list[dict[str, Any]] = []
        for key, value in detail.items():
            at_root = not path and str(key) in REQUEST_WIDE
            found += field_errors(value, path if at_root or key == "non_field_errors" else (*path, str(key)))
        return found
    if isinstance(detail, list):
        found = []
        for index, item in enumerate(detail):
            found += field_errors(item, (*path, str(index)) if isinstance(item, dict | list) else path)
        return found
    return [{"field": ".".join(path) or None, "detail": str(detail), "code": str(getattr(detail, "code", "invalid"))}]


def _text(detail: Any) -> str:
    if isinstance(detail, list | dict):
        return "; ".join(e["detail"] for e in field_errors(detail))
    return str(detail)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return problem_response(request, 400, "The request could not be understood (check the Host header "
                                              "and the request's encoding).")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return problem_response(request, 403, str(exception) or "You may not call this endpoint.")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return problem_response(request, 404, f"There is no API endpoint at {request.path}; "
                                              "the endpoints are listed at /api/docs.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return problem_response(request, 500, "The server failed to answer this request; the failure is "
                                              "logged with the request id of this response (X-Request-ID).")
    return defaults.server_error(request)
