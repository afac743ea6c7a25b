"""What every page view shares: role in context, CSV of the page's table, unavailable states."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.dashboard.roles import ADMIN, ANALYST, has_role, role_of
from apps.dashboard.tables import Table, csv_response, csv_url, wants_csv


def page(request: HttpRequest, template: str, context: Mapping[str, Any], *,
         tables: Mapping[str, Table] | None = None) -> HttpResponse:
    """Render a page, or its table as CSV when asked with ?format=csv[&table=name]."""
    tables = tables or {}
    if wants_csv(request) and tables:
        name = request.GET.get("table") or next(iter(tables))
        if name not in tables:
            return HttpResponse(f"unknown table {name!r}; this page has: {', '.join(tables)}",
                                status=400, content_type="text/plain")
        return csv_response(tables[name])
    ctx = dict(context)
    ctx.update(
        dashboard_role=role_of(request.user),
        can_analyse=has_role(request.user, ANALYST),
        can_admin=has_role(request.user, ADMIN),
        csv_urls={name: csv_url(request, name if i else None) for i, name in enumerate(tables)},
    )
    return render(request, template, ctx)


def not_found(request: HttpRequest, message: str) -> HttpResponse:
    """The site's own 404 page, also when DEBUG is on (Django's debug 404 lists every URL pattern)."""
    return render(request, "404.html", {"message": message}, status=404)


def unavailable(what: str, detail: str) -> dict[str, str]:
    """A part of a page that cannot be shown, and why (the rest of the page still is)."""
    return {"what": what, "message": f"{what} cannot be read: {detail}"}


def parse_date(value: str | None, *, field: str) -> date | None:
    """A YYYY-MM-DD query parameter, or None; bad input is a clear ValueError naming the field."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{field}: expected a date like 2026-01-31, got {value!r}") from exc


def parse_int(value: str | None, *, field: str, default: int, lo: int, hi: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ValueError(f"{field}: expected a whole number, got {value!r}") from exc
    if not lo <= number <= hi:
        raise ValueError(f"{field}: must be between {lo} and {hi}, got {number}")
    return number


def parse_choice(value: str | None, *, field: str, choices: tuple[str, ...], default: str) -> str:
    """One of `choices` (the default when absent); anything else is a clear ValueError naming the field,
    not a quiet fall back to the default (a hand-edited or embedded URL would show other figures than asked)."""
    if value in (None, ""):
        return default
    if value not in choices:
        if not choices:
            raise ValueError(f"{field}: nothing to choose from yet, got {value!r}")
        raise ValueError(f"{field}: must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def choice_or_default(request: HttpRequest, field: str, choices: tuple[str, ...] | list[str], default: str, *,
                      shown: str = "") -> tuple[str, list[str]]:
    """A page's view choice (a period, a filter) and the error to show above it when the one asked for
    is not among `choices`: the page is then shown for the default, saying so (`shown` names what that
    is when the default is no choice at all, e.g. "every kind")."""
    try:
        return parse_choice(request.GET.get(field), field=field, choices=tuple(choices), default=default), []
    except ValueError as exc:
        return default, [showing_instead(exc, shown or f"{field}={default}")]


def showing_instead(error: ValueError, shown: str) -> str:
    """The message above a page shown for its default because what was asked for is not valid."""
    return f"{error}; showing {shown}"


def ms_to_datetime(ms: int | float | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def date_to_ms(day: date | None, *, end: bool = False) -> int | None:
    """Epoch ms at the start of a day, or at the start of the next day for an inclusive end date."""
    if day is None:
        return None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000
    return int(start + (86_400_000 if end else 0))
