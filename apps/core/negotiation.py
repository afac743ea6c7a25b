"""The API answers JSON (and problem details) whatever a client's Accept header asks for.

DRF's default negotiation answers 406 when no renderer matches the Accept header; a person opening
an API URL in a browser (Accept: text/html) or a client asking for XML would get an error instead of
the data. RFC 9110 lets a server disregard Accept, so the first renderer answers; an explicit
`?format=` still chooses among a view's renderers (the KPI widget's HTML or JSON), and one the view
does not have is disregarded too instead of DRF's 404 for a page that exists."""
from __future__ import annotations

from collections.abc import Iterable

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class FirstRendererWhenUnmatched(DefaultContentNegotiation):
    def select_renderer(self, request: Request, renderers: Iterable[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], str(renderers[0].media_type)

    def filter_renderers(self, renderers: Iterable[BaseRenderer], format: str) -> list[BaseRenderer]:  # noqa: A002
        renderers = list(renderers)
        return [r for r in renderers if r.format == format] or renderers
