"""Customer API for agent desktops and CRMs: who is this, and what have they done."""
from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.permissions import READ, can_read_pii
from apps.customers import selectors
from apps.customers.api.serializers import (
    CustomerListQuerySerializer,
    CustomerSerializer,
    JourneyPageSerializer,
    PageQuerySerializer,
)
from apps.customers.privacy import is_personal_attribute, redact_customer

CustomerListSerializer = inline_serializer("CustomerList", {
    "results": serializers.ListField(child=serializers.JSONField(),
                                     help_text="customer ids, or {customer_id, <score>} when ordered by a score"),
    "offset": serializers.IntegerField(), "limit": serializers.IntegerField()})


@extend_schema(operation_id="customers_list", parameters=[CustomerListQuerySerializer],
               responses=CustomerListSerializer)
@api_view(["GET"])
@permission_classes([READ])
def customer_list(request: Request) -> Response:
    """Customer ids, all of them (paged), those linked to one identifier, or ordered by a score."""
    query = CustomerListQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    offset, limit = query.validated_data["offset"], query.validated_data["limit"]
    if "identifier" in query.validated_data:
        try:
            ids = selectors.customers_with_identifier(query.validated_data["identifier"])
        except ValueError as exc:
            raise ValidationError({"identifier": [str(exc)]}) from exc
        ids = ids[offset:offset + limit]
    elif "order_by" in query.validated_data:
        return Response({"results": selectors.customers_by_score(
            order_by=query.validated_data["order_by"], offset=offset, limit=limit), "offset": offset, "limit": limit})
    else:
        ids = selectors.customer_list(offset=offset, limit=limit)
    return Response({"results": ids, "offset": offset, "limit": limit})


@extend_schema(responses=CustomerSerializer)
@api_view(["GET"])
@permission_classes([READ])
def customer_detail(request: Request, customer_id: str) -> Response:
    summary = selectors.customer_summary(customer_id)
    if summary is None:
        raise NotFound(f"no customer {customer_id!r}")
    data = CustomerSerializer(asdict(summary)).data
    return Response(data if can_read_pii(request) else redact_customer(data))


@extend_schema(parameters=[PageQuerySerializer, OpenApiParameter("customer_id", str, OpenApiParameter.PATH)],
               responses=JourneyPageSerializer)
@api_view(["GET"])
@permission_classes([READ])
def customer_journey(request: Request, customer_id: str) -> Response:
    """The customer's events in time order, oldest first, a page at a time."""
    query = PageQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    offset, limit = query.validated_data["offset"], query.validated_data["limit"]
    count, events = selectors.journey_page(customer_id, offset=offset, limit=limit)
    if count == 0 and selectors.customer_summary(customer_id) is None:
        raise NotFound(f"no customer {customer_id!r}")
    data = JourneyPageSerializer({"count": count, "offset": offset, "limit": limit, "results": events}).data
    if not can_read_pii(request):
        for event in data["results"]:
            event["attributes"] = {k: v for k, v in event["attributes"].items() if not is_personal_attribute(k)}
    return Response(data)
