"""JSON request bodies with a nesting limit.

Python's JSON decoder recurses once per level, so a body of a hundred thousand "[" characters raises
RecursionError (a 500) inside the parser; deeply nested but decodable bodies would do the same later
in serializers or the stores. Bodies nested deeper than MAX_JSON_DEPTH are a 400 instead.
`LenientJSONParser` also reads NaN and Infinity (which Python clients write for float('nan')), so the
event ingest can quarantine the one row holding them instead of refusing the whole request.
"""
from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DrfJSONParser

MAX_JSON_DEPTH = 64


class JSONParser(DrfJSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep") from None
        if too_deep(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep")
        return data


class LenientJSONParser(JSONParser):
    strict = False


def too_deep(data: Any, limit: int) -> bool:
    """Whether any value sits more than `limit` containers deep (iterative: no recursion of our own)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
