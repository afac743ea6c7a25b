"""How API routes are spelled: without a trailing slash (`/api/kpis`, `/api/kpis/{slug}/series`,
`/api/contacts`), every one of them, and the OpenAPI schema lists them so.

A client that adds the slash (`/api/kpis/`, as DRF's default and many clients spell collections)
gets the same answer from the same view: `other_spelling`, the last route under /api/, serves it. It
answers in place rather than redirecting, because clients follow a redirect of a POST with a GET and
lose the body. Only a path no route matches reaches it, so the routes' own speed is untouched."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import Resolver404, ResolverMatch, resolve
from django.utils.encoding import escape_uri_path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import SimpleRouter

from apps.core import errors, parameters


class ApiRouter(SimpleRouter):
    """DRF's router with the API's spelling: no trailing slash (`other_spelling` answers with one)."""

    def __init__(self) -> None:
        super().__init__(trailing_slash=False)


@csrf_exempt  # checked below for the view it hands over to, as the middleware would have
def other_spelling(request: HttpRequest) -> HttpResponse:
    """The answer of the route spelled with the trailing slash added or taken away, or 404 (problem
    details naming the path as asked) when neither spelling is a route."""
    asked = request.path_info
    other = asked[:-1] if asked.endswith("/") else f"{asked}/"
    match = _route(other, request)
    # metrics label the request by the route that answers it, "unmatched" without one (apps.core.observability)
    request.resolver_match = match
    if match is None:
        # answered here rather than raised: with DEBUG on (the local demo) Django would answer a raised
        # 404 with its HTML debug page, and an API client gets problem details whatever the settings
        return errors.page_not_found(request, Http404(asked))
    request.route_spelling = other  # type: ignore[attr-defined]  # for the links a page hands out
    refused = (parameters.unknown_names(request, match.func)
               or _CSRF.process_view(request, match.func, match.args, match.kwargs))
    if refused is not None:
        return refused
    answer: Any = match.func(request, *match.args, **match.kwargs)
    return answer


# DRF views are exempt and check CSRF for signed-in people themselves; a plain Django view is not
_CSRF = CsrfViewMiddleware(lambda request: HttpResponse())


def _route(path: str, request: HttpRequest) -> ResolverMatch | None:
    """The route that `path` names, other than this fallback."""
    try:
        match = resolve(path, urlconf=getattr(request, "urlconf", None))
    except Resolver404:
        return None
    return None if match.func is other_spelling else match


def as_spelled(request: Any, url: str) -> str:
    """`url`, a link built from the request's own URL (a page's `next`), with its path in the API's
    spelling when the caller used the other one: the links the API hands out name the route as the
    schema does, whichever spelling reached it."""
    spelled = getattr(request, "route_spelling", None)
    if not spelled:
        return url
    prefix = request.path.removesuffix(request.path_info)  # the script name, when mounted below the root
    return urlunsplit(urlsplit(url)._replace(path=escape_uri_path(prefix + spelled)))
