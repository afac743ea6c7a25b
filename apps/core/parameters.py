"""An API request naming a query parameter its operation does not read is refused by name.

Without this a mistyped parameter was quietly disregarded: `GET /api/journeys/top?max_steps=50`
answered for the default five steps, and a client showed other figures than it asked for with nothing
said. The parameters an operation reads are the ones the OpenAPI document lists for it (drf-spectacular
builds them from the same query serializers, filters and paginators the views read), so the check and
the schema cannot disagree. `format` is read by every view (apps.core.negotiation) and always allowed.

The names are read from the schema generator once per process (about 0.3 s), at start by the web
process (`warm_up`) and otherwise on the first request that carries a query string. Requests without
one — every decision a contact flow asks — are not touched.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.http import HttpRequest, HttpResponse
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.request import Request

from apps.core import errors
from apps.core.problems import is_api

ALWAYS_ALLOWED = frozenset({"format"})

Operation = tuple[Callable[..., Any], str]  # (the view Django's resolver returns, the HTTP method)

_lock = threading.Lock()
_declared: dict[Operation, frozenset[str]] | None = None


def declared() -> dict[Operation, frozenset[str]]:
    """Each operation of the schema: the query parameters it lists."""
    global _declared
    with _lock:
        if _declared is None:
            _declared = _read_schema()
        return _declared


def warm_up() -> None:
    """Read the schema at start, so the first request with a query string does not wait for it."""
    declared()


def _read_schema() -> dict[Operation, frozenset[str]]:
    # imported here: the generator imports DRF's generic views, which import the API's paginator,
    # which imports the router this module serves
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator()
    # the schema names a path's parameters as it documents them (`{pk}` becomes `{id}`): matched by shape
    paths = {_shape(path): item for path, item in generator.get_schema(request=None, public=True)["paths"].items()}
    found: dict[Operation, frozenset[str]] = {}
    # drf-spectacular's endpoints carry the path's regex too (DRF's stubs know three members)
    endpoints = cast(list[tuple[str, str, str, Any]], generator.endpoints or [])
    for path, _regex, method, view in endpoints:
        operation = paths.get(_shape(path), {}).get(method.lower())
        if operation is None:  # left out of the schema (the schema and docs views themselves)
            continue
        names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        found[(view, method)] = frozenset(names) | ALWAYS_ALLOWED
    return found


def _shape(path: str) -> str:
    return re.sub(r"{[^}]*}", "{}", path)


def unknown_names(request: HttpRequest, view: Callable[..., Any]) -> HttpResponse | None:
    """A 400 naming each query parameter the operation does not read, or None when it reads them all
    (or the schema does not list the operation: its view answers, as for a method it does not allow)."""
    if not request.META.get("QUERY_STRING"):
        return None
    method = "GET" if request.method == "HEAD" else str(request.method)
    reads = declared().get((view, method))
    if reads is None:
        return None
    unknown = [name for name in request.GET if name not in reads]
    if not unknown:
        return None
    listed = ", ".join(sorted(reads - ALWAYS_ALLOWED)) or "none"
    detail = f"not a parameter of {method} {request.path}; the parameters it reads: {listed}"
    return errors.invalid_request(request, {name: [ErrorDetail(detail, code="unknown_parameter")] for name in unknown})


class UnknownQueryParametersMiddleware:
    """Refuses an API request naming a query parameter its operation does not read (see the module)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Callable[..., Any], args: Any,
                     kwargs: Any) -> HttpResponse | None:
        if not request.META.get("QUERY_STRING") or not is_api(request):
            return None
        return unknown_names(request, view)


Query = TypeVar("Query", bound=serializers.Serializer)


def read(serializer_class: type[Query], request: Request) -> Query:
    """The query parameters as `serializer_class` reads them (its `validated_data`, and any method it
    has), or the 400 naming each parameter at fault: the one way a view reads its query."""
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query
