"""JSON request bodies that say where they break, with a nesting limit.

A body that is not JSON is a 400 invalid-request problem whose `errors` entry gives the line and
column where decoding stopped (`MalformedJSON`), so a client can find the fault in what it sent.
Python's JSON decoder recurses once per level, so a body of a hundred thousand "[" characters raises
RecursionError (a 500) inside the parser; deeply nested but decodable bodies would do the same later
in serializers or the stores. Bodies nested deeper than MAX_JSON_DEPTH are a 400 instead.
`LenientJSONParser` also reads NaN and Infinity (which Python clients write for float('nan')), so the
event ingest can quarantine the one row holding them instead of refusing the whole request.
"""
from __future__ import annotations

import json
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DrfJSONParser
from rest_framework.parsers import get_encoding  # type: ignore[attr-defined]
from rest_framework.utils.json import strict_constant

MAX_JSON_DEPTH = 64
TOO_DEEP = f"the body is nested more than {MAX_JSON_DEPTH} levels deep"


class MalformedJSON(ParseError):
    """A body that is not JSON (or not of the declared encoding): where it breaks, 1-based, when known."""

    def __init__(self, detail: str, *, line: int | None = None, column: int | None = None) -> None:
        super().__init__(detail)
        self.position = {"line": line, "column": column} if line is not None and column is not None else {}


class JSONParser(DrfJSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:  # DRF's check: a text charset only (a bytes-to-bytes codec would decompress the body)
            encoding = get_encoding(parser_context or {})
        except ParseError as exc:
            raise MalformedJSON(str(exc.detail)) from None
        raw = stream.read()
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise _undecodable(raw, encoding, exc) from None
        try:
            data = json.loads(text, parse_constant=None if not self.strict else strict_constant)
        except json.JSONDecodeError as exc:
            raise MalformedJSON(f"the body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                                line=exc.lineno, column=exc.colno) from None
        except RecursionError:
            raise MalformedJSON(TOO_DEEP) from None
        except ValueError as exc:  # NaN or Infinity where strict JSON is read
            raise MalformedJSON(f"the body is not valid JSON: {exc}") from None
        if too_deep(data, MAX_JSON_DEPTH):
            raise MalformedJSON(TOO_DEEP)
        return data


class LenientJSONParser(JSONParser):
    strict = False


def _undecodable(raw: bytes, encoding: str, exc: UnicodeDecodeError) -> MalformedJSON:
    before = raw[:exc.start]
    line = before.count(b"\n") + 1
    column = exc.start - (before.rfind(b"\n") + 1) + 1
    return MalformedJSON(f"the body is not {encoding} text: byte {exc.start} cannot be decoded "
                         f"at line {line}, column {column}", line=line, column=column)


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
