"""The OpenAPI document says what the API does, errors included.

`ApiKeyAuthenticationScheme` shows how keys are sent. `ProblemAutoSchema` (DEFAULT_SCHEMA_CLASS)
documents, on every operation, each error status it can answer — all as `application/problem+json`
with the `Problem` schema (apps.core.problems): 401/403 unless the endpoint is public, 404 where the
path names a resource, 400 (a bad parameter or body, or a query parameter the operation does not
read), 413/415 where it reads a body, 429 (every endpoint is throttled) and 503 (a store down). A
view documents other statuses (409, or a 404 without a path parameter) in its
`extend_schema(responses=...)`, with `PROBLEM` or with a description only; any 4xx/5xx response
becomes a problem response whatever the view wrote.
"""
from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from apps.core.problems import CONTENT_TYPE, KnownFieldsOnly, ProblemSerializer

PROBLEM = OpenApiResponse(ProblemSerializer, description="problem details")

DESCRIPTIONS = {
    400: "The request is not valid: `errors` names each field or parameter at fault (a query parameter the "
         "operation does not read among them), or, for a body that is not JSON, the line and column where it "
         "breaks (code `parse_error`).",
    401: "No credentials, or an invalid, revoked or expired API key.",
    403: "The caller may not call this endpoint (role or key scope), or a CSRF check failed.",
    404: "The resource named in the path does not exist.",
    409: "The request conflicts with the resource's state.",
    413: "Content Too Large (RFC 9110): the request body is larger than API_MAX_BODY_BYTES.",
    415: "The request body's media type is not one this endpoint reads.",
    429: "Too many requests from this caller; retry after `Retry-After` seconds.",
    503: "The graph store, the event store or the database is unavailable; retry later.",
}
BODY_METHODS = ("POST", "PUT", "PATCH")


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.core.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "Send `Authorization: Api-Key <key>` (create one with `manage.py create_api_key`); "
                               "in Swagger UI's Authorize dialog (/api/docs), enter `Api-Key <key>`."}


class ProblemAutoSchema(AutoSchema):
    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> Any:
        """Text a request may not leave blank says so: DRF refuses "" (and, trimming, "  ") there,
        which its fields do not tell the schema."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (direction == "request" and isinstance(field, serializers.CharField) and not field.allow_blank
                and isinstance(schema, dict) and schema.get("type") == "string"
                and not {"pattern", "format", "enum"} & set(schema)
                and not any(isinstance(v, RegexValidator) for v in field.validators)):  # pattern set later
            schema["pattern"] = r"\S" if field.trim_whitespace else "."
            schema.setdefault("minLength", 1)
        return schema

    def _map_serializer(self, serializer: Any, direction: str, bypass_extensions: bool = False) -> Any:
        """A request body that refuses fields it does not have (`KnownFieldsOnly`) says so, where every
        field it accepts is in its request schema: one with read-only fields also takes those back
        (a GET's answer PUT again), which the request schema leaves out."""
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if (direction == "request" and isinstance(serializer, KnownFieldsOnly) and isinstance(schema, dict)
                and not any(field.read_only for field in serializer.fields.values())):
            schema["additionalProperties"] = False
        return schema

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True  # `?since=` is read as not given, as forms send it
        responses = operation["responses"]
        for status in self._error_statuses(operation):
            responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
        for code, response in responses.items():
            if code[0] in "45":
                responses[code] = self._as_problem(int(code), response)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _get_request_for_media_type(self, serializer: Any, direction: str = "request") -> Any:
        """A request body given as a raw schema (one event or a list of them) is required: without it
        there is nothing to process."""
        if isinstance(serializer, dict):
            return serializer, True
        return super()._get_request_for_media_type(serializer, direction)

    def _error_statuses(self, operation: dict[str, Any]) -> list[int]:
        statuses = [429, 503]
        if not any(isinstance(rule, type) and issubclass(rule, AllowAny) for rule in self.view.permission_classes):
            statuses += [401, 403]
        if "{" in self.path:
            statuses.append(404)
        statuses.append(400)  # any operation: a query parameter it does not read (apps.core.parameters)
        if self.method in BODY_METHODS:
            statuses += [413, 415]
        return statuses

    def _as_problem(self, status: int, response: dict[str, Any]) -> dict[str, Any]:
        """The response's own schema when it declared an extension of Problem, else Problem."""
        declared = [media["schema"] for media in response.get("content", {}).values() if "schema" in media]
        schema = declared[0] if declared else self.resolve_serializer(ProblemSerializer, "response").ref
        problem = {"description": response.get("description") or DESCRIPTIONS.get(status, "problem details"),
                   "content": {CONTENT_TYPE: {"schema": schema}}}
        if status == 429:
            problem["headers"] = {"Retry-After": {
                "schema": {"type": "integer", "minimum": 0}, "required": True,
                "description": "seconds until the caller's window turns"}}
        if status == 401:
            problem["headers"] = {"WWW-Authenticate": {
                "schema": {"type": "string"}, "required": True, "description": "`Api-Key`"}}
        return problem
