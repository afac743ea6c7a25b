"""Customer API for agent desktops and CRMs: who is this, and what have they done."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core import parameters
from apps.core.pagination import Page, keys_in_memory, page_of, paged
from apps.core.permissions import READ, can_read_pii
from apps.customers import selectors
from apps.customers.api.serializers import CustomerListQuerySerializer, CustomerSerializer, EventSerializer
from apps.customers.privacy import is_personal_attribute, redact_customer

CustomerPage = page_of("PaginatedCustomerList", serializers.JSONField(
    help_text="a customer id, or {customer_id, <score>} when ordered by a score"))


@extend_schema(operation_id="customers_list", parameters=[CustomerListQuerySerializer], responses=CustomerPage)
@api_view(["GET"])
@permission_classes([READ])
def customer_list(request: Request) -> Response:
    """Customer ids, all of them or those linked to one identifier, in id order and paged by id (the
    `next` link carries `after`, `previous` `before`: a deep page costs what the first does); or
    ordered by a score, paged by offset."""
    data = parameters.read(CustomerListQuerySerializer, request).validated_data
    page = Page(request)
    if "order_by" in data:
        order_by = data["order_by"]
        return page.response(count=selectors.customer_count(order_by=order_by), results=selectors.customers_by_score(
            order_by=order_by, offset=page.offset, limit=page.limit))
    if "identifier" in data:
        try:
            linked = selectors.customers_with_identifier(data["identifier"])
        except ValueError as exc:
            raise ValidationError({"identifier": [str(exc)]}) from exc
        read, count = keys_in_memory(linked), len(linked)
    else:
        read, count = _stored_ids, selectors.customer_count()
    ids, next_after, previous_before = page.keyset(read, after=data.get("after"), before=data.get("before"))
    return page.keyset_response(count=count, results=ids, next_after=next_after, previous_before=previous_before)


def _stored_ids(after: str | None, before: str | None, offset: int, limit: int) -> list[str]:
    return selectors.customer_list(offset=offset, limit=limit, after=after, before=before)


@extend_schema(responses=CustomerSerializer)
@api_view(["GET"])
@permission_classes([READ])
def customer_detail(request: Request, customer_id: str) -> Response:
    summary = selectors.customer_summary(customer_id)
    if summary is None:
        raise NotFound(f"no customer {customer_id!r}")
    data = CustomerSerializer(asdict(summary)).data
    return Response(data if can_read_pii(request) else redact_customer(data))


@paged
@extend_schema(parameters=[OpenApiParameter("customer_id", str, OpenApiParameter.PATH)],
               responses=EventSerializer(many=True))
@api_view(["GET"])
@permission_classes([READ])
def customer_journey(request: Request, customer_id: str) -> Response:
    """The customer's events in time order, oldest first, a page at a time."""
    page = Page(request)
    count, events = selectors.journey_page(customer_id, offset=page.offset, limit=page.limit)
    if count == 0 and selectors.customer_summary(customer_id) is None:
        raise NotFound(f"no customer {customer_id!r}")
    results: list[dict[str, Any]] = list(EventSerializer(events, many=True).data)
    if not can_read_pii(request):
        for event in results:
            event["attributes"] = {k: v for k, v in event["attributes"].items() if not is_personal_attribute(k)}
    return page.response(count=count, results=results)
