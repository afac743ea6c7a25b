"""Journey analytics API: thin views that validate query parameters, call a selector and serialise
its frozen dataclass. Analyzer argument errors become 400s naming the parameter."""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any, TypeVar

from django.http import Http404
from django.utils.html import escape
from django.views.decorators.clickjacking import xframe_options_sameorigin
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action, api_view, permission_classes, renderer_classes
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core import parameters
from apps.core.api.serializers import JobAcceptedSerializer
from apps.core.api.views import accepted
from apps.core.errors import NamedNotFound, not_found
from apps.core.pagination import Page, page_of
from apps.core.permissions import EXPLORE, MANAGE, READ, READ_OR_DEFINE
from apps.journeys import selectors, tasks
from apps.journeys.api import serializers as s
from apps.journeys.models import KpiDefinition, MilestoneDefinition, Webhook
from apps.journeys.signals import reach_history_refusal

T = TypeVar("T")


class MilestoneInUse(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "milestone_in_use"
    problem_type = "milestone-in-use"  # apps.core.problems.PROBLEM_TYPES


def _run(fn: Callable[..., T], **kwargs: Any) -> T:
    """The analysis, or a 400 whose entry names the parameter at fault where the analysis says which."""
    try:
        return fn(**kwargs)
    except ValueError as exc:
        raise ValidationError({getattr(exc, "parameter", None) or "detail": str(exc)}) from exc


@extend_schema(parameters=[s.TopQuerySerializer], responses=s.TopJourneysSerializer)
@api_view(["GET"])
@permission_classes([READ])
def top_journeys(request: Request) -> Response:
    """The most frequent journeys (each customer's first K steps), with unique-customer counts."""
    query = parameters.read(s.TopQuerySerializer, request)
    data = query.validated_data
    result = _run(selectors.top_journeys, filters=query.filters(), max_steps=data["steps"],
                  with_channel=data["with_channel"], limit=data["limit"])
    return Response(s.TopJourneysSerializer(asdict(result)).data)


@extend_schema(parameters=[s.PathsQuerySerializer], responses=s.PathResultSerializer)
@api_view(["GET"])
@permission_classes([READ])
def journey_paths(request: Request) -> Response:
    """Per-step paths after `start_event` or before `end_event`, as Sankey nodes ("2:call") and links."""
    query = parameters.read(s.PathsQuerySerializer, request)
    data = query.validated_data
    result = _run(selectors.journey_paths, filters=query.filters(), start_event=data.get("start_event"),
                  end_event=data.get("end_event"), steps=data["steps"], min_count=data["min_count"],
                  with_channel=data["with_channel"], cleaning_rules=data.get("clean", []),
                  collapse_repeats=data["collapse_repeats"])
    return Response(s.PathResultSerializer(asdict(result)).data)


@extend_schema(parameters=[s.FunnelQuerySerializer], responses=s.FunnelResultSerializer)
@api_view(["GET"])
@permission_classes([EXPLORE])
def funnel(request: Request) -> Response:
    """Conversion and drop-off through ordered steps within an optional window from entry."""
    query = parameters.read(s.FunnelQuerySerializer, request)
    data = query.validated_data
    result = _run(selectors.funnel, events_in_order=data["steps"], filters=query.filters(),
                  window_ms=query.window_ms(), by_channel=data["by_channel"])
    return Response(s.FunnelResultSerializer({**asdict(result), "conversion": result.conversion}).data)



@extend_schema(parameters=[s.FunnelCustomersQuerySerializer],
               responses=page_of("PaginatedFunnelCustomerList", s.serializers.CharField(help_text="a customer id")))
@api_view(["GET"])
@permission_classes([EXPLORE])
def funnel_customers(request: Request) -> Response:
    """Drill-down: the customers at a funnel step (or who dropped after it), sorted by id, paged."""
    query = parameters.read(s.FunnelCustomersQuerySerializer, request)
    data = query.validated_data
    page = Page(request)
    found = _run(selectors.funnel_customers_page, events_in_order=data["steps"], step=data["step"],
                 filters=query.filters(), window_ms=query.window_ms(), dropped=data["dropped"],
                 channel=data.get("entry_channel"), offset=page.offset, limit=page.limit)
    return page.response(count=found.count, results=list(found.ids))


@extend_schema(parameters=[s.DfgQuerySerializer], responses=s.DfgSerializer)
@api_view(["GET"])
@permission_classes([READ])
def dfg(request: Request) -> Response:
    """Directly-follows counts of the whole (filtered) log: how often b comes right after a."""
    query = parameters.read(s.DfgQuerySerializer, request)
    result = _run(selectors.directly_follows, filters=query.filters(),
                  with_channel=query.validated_data["with_channel"])
    edges = [{"source": a, "target": b, "count": n}
             for (a, b), n in sorted(result.edges.items(), key=lambda kv: (-kv[1], kv[0]))]
    return Response(s.DfgSerializer({"edges": edges, "start": result.start, "end": result.end}).data)


@extend_schema(parameters=[s.SimilarityQuerySerializer], responses={
    200: s.SimilarityResultSerializer, 404: OpenApiResponse(description="the customer has no journey in the index")})
@api_view(["GET"])
@permission_classes([READ])
def similarity(request: Request) -> Response:
    """Customers whose journeys resemble a customer's (or a sequence): how many above the threshold,
    the top k with score, journey and the shared sub-sequences that made them similar."""
    data = parameters.read(s.SimilarityQuerySerializer, request).validated_data
    try:
        result = _run(selectors.similar_journeys, customer_id=data.get("customer_id"),
                      sequence=data.get("sequence"), threshold=data["threshold"], k=data["k"])
    except KeyError as exc:
        raise NotFound(exc.args[0]) from exc
    return Response(s.SimilarityResultSerializer(asdict(result)).data)


class KpiViewSet(NamedNotFound, viewsets.ReadOnlyModelViewSet):
    """KPI definitions (edited in admin) and their stored time series."""

    noun = "KPI"
    queryset = KpiDefinition.objects.all()
    serializer_class = s.KpiDefinitionSerializer
    permission_classes = [READ]
    lookup_field = "slug"

    @extend_schema(parameters=[s.KpiSeriesQuerySerializer], responses=s.KpiSeriesSerializer)
    @action(detail=True, methods=["get"])
    def series(self, request: Request, slug: str) -> Response:
        data = parameters.read(s.KpiSeriesQuerySerializer, request).validated_data
        self.get_object()
        series = selectors.kpi_series(slug=slug, period=data["period"], dimension=data["dimension"],
                                      dimension_value=data["value"], since=data.get("since"),
                                      until=data.get("until"))
        points = [{"period_start": d, "value": v, "numerator": n, "denominator": q} for d, v, n, q in series.detail]
        body = {**asdict(series), "points": points,
                "dimensions": selectors.kpi_dimension_values(slug=slug, period=data["period"])}
        return Response(s.KpiSeriesSerializer(body).data)


class _WidgetHTMLRenderer(TemplateHTMLRenderer):
    """The widget's HTML; answers on the route that have no template (the OPTIONS description) are
    shown as escaped JSON text instead of failing for want of one."""

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: Mapping[str, Any] | None = None) -> str:
        response = (renderer_context or {}).get("response")
        if response is not None and response.template_name is None and not response.exception:
            return f"<pre>{escape(json.dumps(data, indent=2, default=str))}</pre>"
        return super().render(data, accepted_media_type, renderer_context)


@extend_schema(parameters=[s.KpiWidgetQuerySerializer, OpenApiParameter("format", str, enum=["html", "json"])],
               responses={200: OpenApiResponse(description="an HTML fragment (default) or JSON")})
@xframe_options_sameorigin
@api_view(["GET"])
@renderer_classes([_WidgetHTMLRenderer, JSONRenderer])
@permission_classes([READ])
def kpi_widget(request: Request, slug: str) -> Response:
    """A small embeddable KPI card: latest value, change and a sparkline. Framable by same-origin pages
    (the dashboard, an agent desktop served with it); `?format=json` gives the same data as JSON."""
    data = parameters.read(s.KpiWidgetQuerySerializer, request).validated_data
    if not KpiDefinition.objects.filter(slug=slug).exists():
        raise Http404(not_found(KpiViewSet.noun, slug))
    widget = selectors.kpi_widget(slug=slug, period=data["period"])
    return Response({**widget, "spark": _spark(widget["points"])}, template_name="journeys/kpi_widget.html")


def _spark(points: list[dict[str, Any]], width: int = 120, height: int = 28) -> str:
    """SVG polyline points for a sparkline, so the fragment needs no JavaScript."""
    values = [p["value"] for p in points]
    if len(values) < 2:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    step = width / (len(values) - 1)
    return " ".join(f"{i * step:.1f},{height - (v - lo) / span * height:.1f}" for i, v in enumerate(values))


@extend_schema_view(destroy=extend_schema(responses={
    204: None, 409: OpenApiResponse(description="customers have reached it; set active=false instead")}))
class MilestoneViewSet(NamedNotFound, viewsets.ModelViewSet):
    """Milestone definitions; customers reach each once when their events satisfy its trigger."""

    noun = "milestone"
    queryset = MilestoneDefinition.objects.all()
    serializer_class = s.MilestoneDefinitionSerializer
    permission_classes = [READ_OR_DEFINE]
    lookup_field = "slug"

    def perform_destroy(self, instance: MilestoneDefinition) -> None:
        """Refused with 409 once customers reached it: its reach history is kept (deactivate instead)."""
        reason = reach_history_refusal(instance)
        if reason:
            raise MilestoneInUse(reason)
        instance.delete()

    @extend_schema(responses=s.MilestoneReachSerializer(many=True))
    @action(detail=True, methods=["get"])
    def customers(self, request: Request, slug: str) -> Response:
        """Customers who reached the milestone, in the order they reached it."""
        milestone = self.get_object()
        page = self.paginate_queryset(milestone.reaches.order_by("ts", "customer_id"))
        return self.get_paginated_response(s.MilestoneReachSerializer(page, many=True).data)

    @extend_schema(request=None, responses={202: JobAcceptedSerializer})
    @action(detail=True, methods=["post"])
    def backfill(self, request: Request, slug: str) -> Response:
        """Queue a job that applies the definition to every customer's history (reaches are still once
        per customer); poll `status_url` (`GET /api/jobs/{id}`): its `result` is {slug: customers newly
        reached}. A whole-history pass can outlast a web request, so it runs on the job worker."""
        milestone = self.get_object()
        return accepted(request, tasks.queue_backfill(slugs=[milestone.slug]))


class WebhookViewSet(NamedNotFound, viewsets.ModelViewSet):
    """Webhooks that receive signed `milestone.reached` POSTs (header X-JourneyHub-Signature:
    sha256=HMAC(secret, "<X-JourneyHub-Timestamp>.<body>"))."""

    noun = "webhook"
    queryset = Webhook.objects.prefetch_related("milestones")
    serializer_class = s.WebhookSerializer
    permission_classes = [MANAGE]

    @extend_schema(responses=s.WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str) -> Response:
        webhook = self.get_object()
        page = self.paginate_queryset(webhook.deliveries.order_by("-created_at", "-id"))
        return self.get_paginated_response(
            s.WebhookDeliverySerializer(page, many=True, context=self.get_serializer_context()).data)
