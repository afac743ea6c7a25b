"""Ingest API: stream events in, watch batches, read quarantined rows."""
from __future__ import annotations

from typing import Any

import django_filters
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action, api_view, parser_classes, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from apps.conversations.services import FORMATS as CONVERSATION_FORMATS
from apps.core.errors import NamedNotFound
from apps.core.parsers import LenientJSONParser
from apps.core.permissions import INGEST, READ
from apps.core.problems import problem_response
from apps.ingest import readers, selectors
from apps.ingest.api.serializers import (
    EVENTS_REQUEST,
    EventsQuarantinedProblemSerializer,
    EventsResultSerializer,
    IngestBatchSerializer,
    QuarantinedRowSerializer,
)
from apps.ingest.models import IngestBatch
from apps.ingest.services import ingest_records

MAX_EVENTS_PER_REQUEST = 10_000


@extend_schema(request={"application/json": EVENTS_REQUEST}, responses={
    201: EventsResultSerializer,
    400: OpenApiResponse(EventsQuarantinedProblemSerializer, description=(
        "invalid-request (not 1-10,000 events, or not JSON), or events-quarantined: no event landed, "
        "and the problem carries the batch's figures and each event's reason"))})
@api_view(["POST"])
@permission_classes([INGEST])
@parser_classes([LenientJSONParser])  # NaN/Infinity read, so only the row holding one is quarantined
def post_events(request: Request) -> HttpResponse:
    """One event object or a list of them. Bad events are quarantined with their reason; good ones land."""
    payload = request.data
    events = payload if isinstance(payload, list) else [payload]
    if not events or len(events) > MAX_EVENTS_PER_REQUEST:
        raise ValidationError(f"send between 1 and {MAX_EVENTS_PER_REQUEST:,} events")
    # a client retries what failed: events that landed before the failure get their follow-up now
    batch = ingest_records(records=events, source=f"api:{request.user.username}", follow_up_duplicates=True)
    body: dict[str, Any] = {
        "batch": batch.pk, "received": batch.rows_read, "loaded": batch.loaded, "duplicates": batch.duplicates,
        "quarantined": QuarantinedRowSerializer(selectors.quarantine(batch.pk), many=True).data}
    if batch.loaded + batch.duplicates > 0 or batch.quarantined == 0:
        return Response(body, status=status.HTTP_201_CREATED)
    reasons = "; ".join(f"event {row['row_number']}: {row['reason']}" for row in body["quarantined"][:3])
    more = f" (and {batch.quarantined - 3} more)" if batch.quarantined > 3 else ""
    return problem_response(request, 400, f"no event landed: {reasons}{more}", type_name="events-quarantined",
                            **body)


# what a batch records as its format: a file's (readers), the API's and demo's records, a conversation load's
BATCH_FORMATS = (*readers.FORMATS, "records", *CONVERSATION_FORMATS)


def _choice(names: tuple[str, ...], what: str) -> django_filters.ChoiceFilter:
    return django_filters.ChoiceFilter(choices=[(name, name) for name in names], error_messages={
        "invalid_choice": f"%(value)r is not a batch {what}: one of {', '.join(names)}"})


class IngestBatchFilter(django_filters.FilterSet):
    """A format is one of those a batch can have: `format=cvs` answered an empty list, as if no file had
    been loaded. A value out of its choices is named with them."""

    status = _choice(tuple(IngestBatch.Status.values), "status")
    format = _choice(BATCH_FORMATS, "format")

    class Meta:
        model = IngestBatch
        fields = ["status", "format", "source"]


class IngestBatchViewSet(NamedNotFound, viewsets.ReadOnlyModelViewSet):
    """Ingest batches: what each load read, landed, found twice and quarantined."""

    noun = "ingest batch"
    serializer_class = IngestBatchSerializer
    permission_classes = [READ]
    filterset_class = IngestBatchFilter

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.batches()

    # the batch list's filters are not the quarantine's: its rows have no status, format or source
    @extend_schema(responses=QuarantinedRowSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def quarantine(self, request: Request, pk: str | None = None) -> Response:
        batch = self.get_object()
        page = self.paginate_queryset(selectors.quarantine(batch.pk))
        return self.get_paginated_response(QuarantinedRowSerializer(page, many=True).data)
