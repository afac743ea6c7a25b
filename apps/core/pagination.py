"""The API's one pagination format: DRF's limit/offset page `{count, next, previous, results}`.

A list in a stable key order that the store can read past a key (customers by id) pages by key
instead (`Page.keyset_response`): the same four members, with `next` carrying `after=<last key>`
and `previous` `before=<first key>`, so a deep page costs what the first does.

Every list endpoint answers it — viewsets through DEFAULT_PAGINATION_CLASS, function views that
page their own results (a graph read, an analysis) through `Page`. `limit` is 1-500 (default
PAGE_SIZE, 50) and `offset` 0-2^53-1: DRF ignores a `limit` it cannot read and passes any size
through to the database, where a value of 2^63 or more overflows the query; here a bad or
out-of-range value is a 400 naming the parameter and its bounds, like every other parameter error,
and the OpenAPI document states the bounds.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from apps.core.routers import as_spelled

MAX_LIMIT = 500
MAX_OFFSET = 2**53 - 1  # exact in JSON numbers and in every database's integer type


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def get_limit(self, request: Request) -> int | None:
        raw = request.query_params.get(self.limit_query_param)
        if raw is None or raw == "":
            return self.default_limit
        return bounded_int(self.limit_query_param, raw, 1, MAX_LIMIT)

    def get_offset(self, request: Request) -> int:
        raw = request.query_params.get(self.offset_query_param)
        if raw is None or raw == "":
            return 0
        return bounded_int(self.offset_query_param, raw, 0, MAX_OFFSET)

    def get_next_link(self) -> str | None:
        link = super().get_next_link()
        return as_spelled(self.request, link) if link else None

    def get_previous_link(self) -> str | None:
        link = super().get_previous_link()
        return as_spelled(self.request, link) if link else None

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return PAGE_PARAMETERS

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        page = super().get_paginated_response_schema(schema)
        page["required"] = ["count", "next", "previous", "results"]
        return page


PAGE_PARAMETERS = [
    {"name": "limit", "in": "query", "required": False,
     "description": f"Number of results to return per page (1-{MAX_LIMIT}, default 50).",
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
    {"name": "offset", "in": "query", "required": False,
     "description": "The initial index from which to return the results.",
     "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}},
]


KeyedRead = Callable[[str | None, str | None, int, int], list[str]]  # (after, before, offset, limit) -> keys


def keys_in_memory(keys: Sequence[str]) -> KeyedRead:
    """A KeyedRead over keys already in hand (sorted here)."""
    ordered = sorted(keys)

    def read(after: str | None, before: str | None, offset: int, limit: int) -> list[str]:
        if after is not None:
            return [k for k in ordered if k > after][:limit]
        if before is not None:
            return [k for k in ordered if k < before][-limit:]
        return ordered[offset:offset + limit]
    return read


class Page:
    """A page of results a view computes itself: read the bounded window, fetch that slice and the
    total, answer the same `{count, next, previous, results}` as the viewsets."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self._paginator = BoundedLimitOffsetPagination()
        self._paginator.request = request
        self.offset = self._paginator.offset = self._paginator.get_offset(request)
        self.limit = self._paginator.limit = self._paginator.get_limit(request) or MAX_LIMIT

    def response(self, *, count: int, results: Sequence[Any]) -> Response:
        self._paginator.count = count
        return self._paginator.get_paginated_response(list(results))

    def keyset(self, read: KeyedRead, *, after: str | None, before: str | None) -> tuple[list[str], str | None,
                                                                                         str | None]:
        """One page of keys in ascending order, read past `after` (or up to `before`, or from the
        offset), with the keys the next and previous links start from (None: no such page). `read`
        is asked for one key more than the page, to know whether another page follows."""
        keys = read(after, before, self.offset, self.limit + 1)
        if before is not None:
            more = len(keys) > self.limit
            page = keys[1:] if more else keys
            return page, (page[-1] if page else None), (page[0] if more else None)
        more = len(keys) > self.limit
        page = keys[:self.limit]
        earlier = bool(page) and (after is not None or self.offset > 0)
        return page, (page[-1] if more else None), (page[0] if earlier else None)

    def keyset_response(self, *, count: int, results: Sequence[Any], next_after: str | None,
                        previous_before: str | None) -> Response:
        url = remove_query_param(as_spelled(self._request, self._request.build_absolute_uri()), "offset")
        return Response({
            "count": count,
            "next": None if next_after is None else replace_query_param(
                remove_query_param(url, "before"), "after", next_after),
            "previous": None if previous_before is None else replace_query_param(
                remove_query_param(url, "after"), "before", previous_before),
            "results": list(results)})


def paged(view: Callable[..., Any]) -> Callable[..., Any]:
    """Marks an @api_view function that answers with `Page`, so the OpenAPI document shows its
    `responses=Item(many=True)` as a page and its `limit`/`offset` parameters (apply it last)."""
    view.cls.pagination_class = BoundedLimitOffsetPagination  # type: ignore[attr-defined]
    return view


def page_of(name: str, item: serializers.Field) -> serializers.Serializer:
    """A page whose items are no serializer's (plain ids), for `extend_schema(responses=...)`."""
    return inline_serializer(name, {
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": serializers.ListField(child=item)})


def bounded_int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: ["A valid integer is required."]}) from None
    if not low <= value <= high:
        raise ValidationError({name: [f"Ensure this value is between {low} and {high}."]})
    return value
