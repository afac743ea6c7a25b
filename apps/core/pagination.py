"""The API's one pagination format (DRF's limit/offset) with bounded parameters.

DRF ignores a `limit` it cannot read and passes any size through to the database, where a value of
2^63 or more overflows the query; here a bad or out-of-range `limit`/`offset` is a 400 naming the
parameter and its bounds, in the same shape as every other query-parameter error.
"""
from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

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


def bounded_int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: ["A valid integer is required."]}) from None
    if not low <= value <= high:
        raise ValidationError({name: [f"Ensure this value is between {low} and {high}."]})
    return value
