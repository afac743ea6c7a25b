"""The API's one error shape: RFC 9457 problem details (`application/problem+json`).

Every error under /api/ — raised in a view, by DRF (validation, authentication, permissions,
throttling, parsing), by Django (an unknown URL, a bad Host header, an unhandled exception) or by a
middleware (body too large, a store down) — is an object with `type`, `title`, `status`, `detail`
and `instance`, plus extension members where a client needs more: `errors` (one entry per invalid
field or parameter), `retry_after` beside the `Retry-After` header of a 429, and the ingest
result of `POST /api/events` when every event was quarantined.

`type` is `about:blank` when the status says it all (the title is then the status phrase, as RFC
9457 asks, in RFC 9110's words: Python 3.11 still says "Request Entity Too Large" for 413);
problems a client may want to tell apart have their own URN (`PROBLEM_TYPES`).
"""
from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from django.db import models
from django.http import HttpRequest, HttpResponse
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

CONTENT_TYPE = "application/problem+json"
BLANK = "about:blank"
URN = "urn:journeyhub:problem:"

# Problem types of our own: URN suffix -> title (the same for every occurrence of the type).
PROBLEM_TYPES = {
    "invalid-request": "The request is not valid.",
    "events-quarantined": "Every event of the request was quarantined.",
    "milestone-in-use": "The milestone has been reached by customers.",
    "unknown-contact": "The contact is unknown.",
    "graph-unavailable": "The graph store is unavailable.",
    "event-store-unavailable": "The event store is unavailable.",
    "database-unavailable": "The database is unavailable.",
    "training-in-progress": "The model is already being trained.",
}

# RFC 9110 (section 15) renamed these; Python 3.11's HTTPStatus keeps the older phrases.
RFC_9110_PHRASES = {413: "Content Too Large", 414: "URI Too Long", 416: "Range Not Satisfiable",
                    422: "Unprocessable Content"}


def phrase(status: int) -> str:
    return RFC_9110_PHRASES.get(status) or HTTPStatus(status).phrase


def problem_type(name: str) -> str:
    if name not in PROBLEM_TYPES:
        raise KeyError(f"unknown problem type {name!r}; add it to PROBLEM_TYPES")
    return URN + name


def problem(status: int, detail: str, *, type_name: str | None = None, instance: str = "",
            **extensions: Any) -> dict[str, Any]:
    """The body of one problem: `about:blank` with the status phrase as title, or one of PROBLEM_TYPES."""
    if type_name is None:
        kind, title = BLANK, phrase(status)
    else:
        kind, title = problem_type(type_name), PROBLEM_TYPES[type_name]
    return {"type": kind, "title": title, "status": status, "detail": detail, "instance": instance, **extensions}


def problem_response(request: HttpRequest | None, status: int, detail: str, *, type_name: str | None = None,
                     headers: Mapping[str, str] | None = None, **extensions: Any) -> HttpResponse:
    """A finished `application/problem+json` response. Plain Django, so a middleware, a URL handler
    and DRF's exception handler answer alike whatever the view's renderers are."""
    instance = request.path if request is not None else ""
    body = problem(status, detail, type_name=type_name, instance=instance, **extensions)
    response = HttpResponse(JSONRenderer().render(body), status=status, content_type=CONTENT_TYPE,
                            reason=phrase(status))
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


class TextField(serializers.CharField):
    """Text in a JSON body is a string: DRF's CharField also reads 42 as "42", which the schema
    (`type: string`) says is refused, so a number where text belongs is a 400 naming the field."""

    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class SlugTextField(serializers.SlugField):
    """A slug that must arrive as a string (see TextField)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class TrueFalseField(serializers.BooleanField):
    """A JSON true or false: DRF's BooleanField also reads 0, 1, "yes" and "off", which the schema
    (`type: boolean`) says are refused."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class KnownFieldsOnly(serializers.Serializer):
    """A body naming a field the serializer does not have is refused by name: DRF leaves it out
    quietly, so `PATCH {"activ": false}` answered 200 and changed nothing. The fields an answer
    carries (read-only ones included) are allowed, so what a GET returned can be sent back."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in data if name not in self.fields)
            if unknown:
                known = ", ".join(name for name, field in self.fields.items() if not field.read_only)
                raise serializers.ValidationError(
                    {name: [f"not a field of this request; its fields: {known}"] for name in unknown},
                    code="unknown_field")
        return super().to_internal_value(data)


def refuse_reversed(attrs: Mapping[str, Any], low: str, high: str) -> None:
    """A range given by both ends whose end lies below its start is refused, naming the end: it could
    only match nothing, and was answered as if nothing matched."""
    if low in attrs and high in attrs and attrs[high] < attrs[low]:
        raise serializers.ValidationError({high: f"must not be below {low}"})


# For ModelSerializer.serializer_field_mapping: text and boolean model fields read only the JSON
# type the schema names.
STRICT_FIELDS: dict[Any, Any] = {
    **serializers.ModelSerializer.serializer_field_mapping,
    models.CharField: TextField, models.TextField: TextField, models.SlugField: SlugTextField,
    models.BooleanField: TrueFalseField}


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text=(
        "the body field or query parameter at fault, dotted for nested ones (`events.3.timestamp`); "
        "null when the request as a whole is at fault"))
    detail = serializers.CharField()
    code = serializers.CharField(help_text=(
        "a stable code such as `required`, `invalid`, `max_value`; `parse_error` for a body that is not JSON, "
        "`unknown_parameter` for a query parameter the operation does not read, `unknown_field` for a body field "
        "the request does not have"))
    line = serializers.IntegerField(required=False, min_value=1,
                                    help_text="parse_error only: the line of the body where decoding stopped")
    column = serializers.IntegerField(required=False, min_value=1,
                                      help_text="parse_error only: the column of that line where decoding stopped")


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details: what went wrong, for a program (`type`, `status`) and for a person
    (`title`, `detail`)."""

    type = serializers.CharField(help_text=(
        "`about:blank` when the status says it all; otherwise a URN naming the problem, one of: "
        + ", ".join(f"`{URN}{name}`" for name in PROBLEM_TYPES)))
    title = serializers.CharField(help_text="the same for every problem of this type")
    status = serializers.IntegerField(min_value=400, max_value=599)
    detail = serializers.CharField(help_text="what went wrong with this request, and where")
    instance = serializers.CharField(help_text="the path of the request")
    errors = FieldErrorSerializer(many=True, required=False,  # type: ignore[assignment]
                                  help_text="invalid-request only: one entry per invalid field or parameter")
    retry_after = serializers.IntegerField(required=False, min_value=0,
                                           help_text="429 only: seconds to wait, as in the Retry-After header")
