"""Decision endpoints for Amazon Connect's Lambda: thin views over apps.decisions.services."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    content_negotiation_class,
    permission_classes,
    renderer_classes,
    throttle_classes,
)
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core import parameters
from apps.core.auth import ApiKeyAuthentication
from apps.core.permissions import DECIDE, READ
from apps.core.problems import problem_response
from apps.core.throttling import DecideThrottle
from apps.decisions import selectors, services
from apps.decisions.api import serializers as s


class JsonOnly(DefaultContentNegotiation):
    """The endpoints a contact flow calls answer JSON and nothing else, so their renderer is not
    negotiated: reading the Accept header and the query string for a format is work a waiting caller
    would pay for on every call with nothing to choose from."""

    def select_renderer(self, request: Request, renderers: Iterable[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


def contact_flow_endpoint(method: str) -> Callable[[Callable[..., Any]], Any]:
    """What every endpoint a contact flow calls shares: API keys with the `decide` scope, the decision
    throttle, and JSON without negotiation."""
    def wrap(view: Callable[..., Any]) -> Any:
        for decorate in (content_negotiation_class(JsonOnly), renderer_classes([JSONRenderer]),
                         throttle_classes([DecideThrottle]), permission_classes([DECIDE]),
                         authentication_classes([ApiKeyAuthentication]), api_view([method])):
            view = decorate(view)
        return view
    return wrap


def _bad_request(exc: Exception) -> Response:
    """A decision's input error ("phone: not a number") as the API's invalid-request problem."""
    field, _, text = str(exc).partition(": ")
    raise ValidationError({field: [text]} if text and field.isidentifier() else str(exc))


def _validated(serializer_class: Any, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return {k: v for k, v in serializer.validated_data.items() if v not in ("", None)}


@extend_schema(request=s.IntentRequestSerializer, responses={200: s.IntentResponseSerializer},
               summary="Predict why the caller is calling: confirm, suggest or menu")
@contact_flow_endpoint("POST")
def intent(request: Request) -> Response:
    try:
        decision = services.decide_intent(**_validated(s.IntentRequestSerializer, request))
    except services.DecisionInputError as exc:
        return _bad_request(exc)
    return Response(services.as_dict(decision))


@extend_schema(request=s.FeedbackRequestSerializer, responses={
    201: s.FeedbackResponseSerializer, 404: OpenApiResponse(description="contact unknown and no caller given")},
    summary="Record the intent the caller confirmed or chose")
@contact_flow_endpoint("POST")
def intent_feedback(request: Request) -> HttpResponse:
    try:
        result = services.record_intent_feedback(**_validated(s.FeedbackRequestSerializer, request))
    except services.DecisionInputError as exc:
        return _bad_request(exc)
    except services.UnknownContact as exc:
        return problem_response(request, 404, str(exc), type_name="unknown-contact")
    return Response(result, status=status.HTTP_201_CREATED)


@extend_schema(request=s.RiskRequestSerializer, responses={200: s.RiskResponseSerializer},
               summary="Score the call's risk (0-1000) and route it by the ordered rules")
@contact_flow_endpoint("POST")
def risk(request: Request) -> Response:
    try:
        decision = services.decide_risk(**_validated(s.RiskRequestSerializer, request))
    except services.DecisionInputError as exc:
        return _bad_request(exc)
    return Response(services.as_dict(decision))


@extend_schema(responses={200: s.ProfileSerializer, 404: OpenApiResponse(description="no customer has this phone")},
               summary="Data dip: the caller's profile by phone number")
@contact_flow_endpoint("GET")
def profile_by_phone(request: Request, e164: str) -> Response:
    try:
        phone = services.normalize_phone(e164, field_name="e164")
    except services.DecisionInputError as exc:
        return _bad_request(exc)
    profile = selectors.profile_by_phone(phone)
    if profile is None:
        raise NotFound(f"no customer has phone {phone}")
    return Response(services.as_dict(profile))


@extend_schema(parameters=[s.MonitorQuerySerializer], responses={200: s.MonitorSerializer},
               summary="Decision monitor: counts, routing mix, latency p50/p99 and model versions per kind")
@api_view(["GET"])
@permission_classes([READ])
def monitor(request: Request) -> Response:
    data = parameters.read(s.MonitorQuerySerializer, request).validated_data
    return Response(s.MonitorSerializer(selectors.decision_monitor(
        since=data.get("since"), kind=data.get("kind", ""), channel=data.get("channel", ""))).data)
